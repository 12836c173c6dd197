#include "admin/store_stats.h"

#include <lmdb.h>

#include "runtime/job_queue.h"
#include "store/counters.h"
#include "store/schema.h"

namespace threadmill::admin {

Result<StoreStats> ReadStoreStats(const std::shared_ptr<store::Environment>& env,
                                  const std::string& spool_dir) {
  StoreStats out;
  out.map_bytes = env->map_size();
  Status read = env->Read([&](store::ReadTxn& txn) -> Status {
    for (const auto& spec : store::kDatabases) {
      MDB_dbi dbi = env->dbi(spec.db);
      MDB_stat stat{};
      if (dbi == store::kMissingDbi || mdb_stat(txn.raw(), dbi, &stat) != MDB_SUCCESS) {
        out.entries.emplace_back(spec.name, 0);
        continue;
      }
      out.entries.emplace_back(spec.name, stat.ms_entries);
    }
    return {};
  });
  if (!read.ok()) return read.error();
  runtime::JobQueue queue(env, spool_dir);
  for (auto state : {runtime::JobState::kQueued, runtime::JobState::kRunning,
                     runtime::JobState::kParked, runtime::JobState::kDone}) {
    auto listed = queue.List(1000000, state);
    out.jobs.emplace_back(runtime::ToString(state), listed.ok() ? listed->size() : 0);
  }
  if (auto all = store::Counters(env).All(); all.ok()) out.counters = std::move(*all);
  return out;
}

}  // namespace threadmill::admin
