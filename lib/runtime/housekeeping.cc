// housekeeping.cc - see housekeeping.h.
#include "runtime/housekeeping.h"

#include <algorithm>

#include "log/logger.h"
#include "reply/gate_marker.h"
#include "reply/ledger.h"
#include "runtime/drafts.h"
#include "store/kv_store.h"
#include "store/shared_sweep.h"

namespace threadmill::runtime {

int64_t SweepIntervalSeconds(int64_t done_retention_seconds) {
  return std::clamp<int64_t>(done_retention_seconds / 4, 1, 60);
}

bool Housekeeping::Recover(JobQueue& queue, int64_t now) {
  auto rebuilt = queue.RebuildIndex();
  if (!rebuilt.ok()) {
    log::Get().error("supervisor: cannot rebuild the spool index: {}", rebuilt.error().message);
    return false;
  }
  if (*rebuilt) log::Get().info("supervisor: spool index rebuilt ({} job(s))", *rebuilt);
  auto recovered = queue.RecoverRunning(now);
  if (!recovered.ok()) {
    log::Get().error("supervisor: cannot queue interrupted jobs again: {}",
                     recovered.error().message);
    return false;
  }
  if (*recovered > 0) log::Get().info("supervisor: {} interrupted job(s) queued again", *recovered);
  return true;
}

void Housekeeping::SweepKvAndDrafts(JobQueue& queue, const std::shared_ptr<store::Environment>& env,
                                    const RuntimeConfig& runtime, const config::Config& config,
                                    int64_t now) {
  store::KvStore kv(env, [now] { return now; });
  size_t expired_kv = 0;
  for (;;) {
    auto swept = kv.SweepExpired(1000);
    if (!swept.ok()) {
      log::Get().error("supervisor: sweeping expired kv records failed: {}", swept.error().message);
      break;
    }
    expired_kv += *swept;
    if (*swept < 1000) break;
  }
  if (expired_kv) log::Get().info("supervisor: {} expired kv record(s) swept", expired_kv);
  DraftStore drafts(env);
  auto expired = drafts.ExpireDue(
      now, [&](const std::string& handler) { return runtime.DraftExpirySeconds(handler); });
  if (!expired.ok()) {
    log::Get().error("supervisor: expiring drafts failed: {}", expired.error().message);
  } else {
    for (const Draft& d : *expired) {
      auto job = EnqueueDecision(queue, d);
      if (!job.ok()) {
        log::Get().error("supervisor: draft {} expired, its handler cannot be told: {}", d.id,
                         job.error().message);
      }
    }
  }
  auto swept = drafts.SweepDecided(now - config.store.retention_days * 86400);
  if (swept.ok() && *swept) log::Get().info("supervisor: {} decided draft(s) swept", *swept);
}

void Housekeeping::Push(JobQueue& queue, int64_t now_ms) {
  if (!queue.shared() || now_ms < next_push_ms_) return;
  next_push_ms_ = now_ms + kPushIntervalMs;
  for (;;) {
    auto pushed = queue.PushLocal();
    if (!pushed.ok()) {
      if (now_ms >= next_push_warning_ms_) {
        next_push_warning_ms_ = now_ms + 60 * 1000;
        auto depth = queue.LocalFallbackDepth();
        log::Get().warn(
            "supervisor: {} fallback job(s) wait in the local spool: cannot push them to the "
            "shared queue: {}",
            depth.ok() ? *depth : 0, pushed.error().message);
      }
      return;
    }
    if (*pushed == 0) return;
    next_push_warning_ms_ = 0;
    log::Get().info(
        "supervisor: {} fallback job(s) pushed from the local spool to the shared queue", *pushed);
  }
}

void Housekeeping::Sweep(JobQueue& queue, const std::shared_ptr<store::Environment>& env,
                         const RuntimeConfig& runtime, const config::Config& config, int64_t now) {
  if (now >= next_jobs_s_) {
    next_jobs_s_ = now + SweepIntervalSeconds(runtime.done_retention_seconds);
    size_t total = 0;
    for (;;) {  // in batches, so one sweep never holds the writer lock for long
      auto swept = queue.SweepDone(now - runtime.done_retention_seconds);
      if (!swept.ok()) {
        log::Get().error("supervisor: sweeping done jobs failed: {}", swept.error().message);
        break;
      }
      total += *swept;
      if (*swept < JobQueue::kSweepBatch) break;
    }
    if (total) log::Get().info("supervisor: {} finished job(s) swept", total);
  }
  if (now >= next_ledger_s_) {
    next_ledger_s_ = now + kSharedSweepIntervalSeconds;
    // This host's gate markers (local files): swept on every host.
    auto gates = reply::SweepGateMarkers(reply::GateMarkers(runtime.reply.gate_dir),
                                         reply::ReplyLedger(env), now);
    if (!gates.ok()) {
      log::Get().warn("supervisor: sweeping gate markers failed: {}", gates.error().message);
    } else if (*gates) {
      log::Get().info("supervisor: {} stale gate marker(s) swept", *gates);
    }
    // Shared data (PostgreSQL): one host per interval sweeps it, the others skip.
    auto mine = store::TakeSharedSweep(*env, "housekeeping", now, kSharedSweepIntervalSeconds);
    if (!mine.ok()) {
      log::Get().error("supervisor: retention sweeps skipped, the sweep lease failed: {}",
                       mine.error().message);
      ++shared_sweeps_skipped_;
      return;
    }
    if (!*mine) {
      log::Get().info("supervisor: retention sweeps of shared data left to another host");
      ++shared_sweeps_skipped_;
      return;
    }
    ++shared_sweeps_run_;
    reply::ReplyLedger ledger(env);
    auto removed = ledger.Sweep(now - config.store.retention_days * 86400);
    if (removed.ok() && *removed) log::Get().info("supervisor: {} reply record(s) swept", *removed);
    SweepKvAndDrafts(queue, env, runtime, config, now);
  }
}

}  // namespace threadmill::runtime
