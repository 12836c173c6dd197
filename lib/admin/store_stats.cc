// store_stats.cc - see store_stats.h.
#include "admin/store_stats.h"

#include "runtime/job_queue.h"
#include "store/counters.h"
#include "store/store_census.h"

namespace threadmill::admin {
namespace {

constexpr runtime::JobState kStates[] = {runtime::JobState::kQueued, runtime::JobState::kRunning,
                                         runtime::JobState::kParked, runtime::JobState::kDone};

}  // namespace

Result<StoreStats> ReadStoreStats(const std::shared_ptr<store::Environment>& env,
                                  const std::string& spool_dir) {
  StoreStats out;
  store::StoreCensus census(env);
  out.backend = std::string(census.backend());
  out.shared = census.shared();
  out.map_bytes = env->map_size();
  runtime::JobQueue queue(env, spool_dir);
  if (!out.shared) {
    auto entries = census.Entries();
    if (!entries.ok()) return entries.error();
    out.entries = std::move(*entries);
    for (auto state : kStates) {
      auto n = queue.Count(state);
      out.jobs.emplace_back(runtime::ToString(state), n.ok() ? *n : 0);
    }
    if (auto all = store::Counters(env).All(); all.ok()) out.counters = std::move(*all);
    return out;
  }
  // Shared: the local spool first (it answers when the database does not).
  for (auto state : kStates) {
    auto n = queue.CountLocal(state);
    if (!n.ok()) return n.error();
    out.local_jobs.emplace_back(runtime::ToString(state), *n);
  }
  auto waiting = queue.LocalFallbackDepth();
  if (!waiting.ok()) return waiting.error();
  out.waiting_to_push = *waiting;
  auto note = [&](const Error& e) {
    if (out.error.empty()) out.error = e.message;
  };
  if (auto entries = census.Entries(); entries.ok()) {
    out.entries = std::move(*entries);
  } else {
    note(entries.error());
  }
  if (out.error.empty()) {  // an unreachable database: do not wait for it once per figure
    for (auto state : kStates) {
      auto n = queue.CountShared(state);
      if (!n.ok()) {
        note(n.error());
        out.jobs.clear();
        break;
      }
      out.jobs.emplace_back(runtime::ToString(state), *n);
    }
  }
  if (out.error.empty()) {
    if (auto all = store::Counters(env).All(); all.ok()) {
      out.counters = std::move(*all);
    } else {
      note(all.error());
    }
  }
  return out;
}

}  // namespace threadmill::admin
