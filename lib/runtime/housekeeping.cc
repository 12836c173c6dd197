// housekeeping.cc - see housekeeping.h.
#include "runtime/housekeeping.h"

#include <algorithm>

#include "log/logger.h"
#include "reply/ledger.h"

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
    next_ledger_s_ = now + 3600;
    reply::ReplyLedger ledger(env);
    auto removed = ledger.Sweep(now - config.store.retention_days * 86400);
    if (removed.ok() && *removed) log::Get().info("supervisor: {} reply record(s) swept", *removed);
  }
}

}  // namespace threadmill::runtime
