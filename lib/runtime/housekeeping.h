// housekeeping.h - the supervisor's chores besides running jobs: recovery and sweeping.
//
// DESCRIPTION
//   Recover() runs once at supervisor start: it rebuilds the spool index when it does not
//   match the spool (JobQueue::RebuildIndex), then jobs left running by a crash, a kill -9 or a
//   stop that had to kill its workers are queued again, due now (delivery is at least once;
//   the reply ledger keeps replies once).
//   Sweep() runs from the poll loop and does something only when due: every
//   SweepIntervalSeconds(done_retention_seconds) it removes done jobs older than
//   done_retention_seconds (through the spool index, so its cost follows the number removed,
//   not the number kept) and, hourly, reply-ledger records older than [store] retention_days,
//   expired kv records (KvStore::SweepExpired), drafts awaiting approval past their
//   draft_expiry_hours (expired, the handler told by a draft-decision job) and decided drafts
//   older than retention_days. Done jobs are this host's (local spool) and swept on every
//   host; the hourly sweeps are of data that may be shared by several hosts (PostgreSQL):
//   they run only when this host takes the "housekeeping" sweep lease for the hour
//   (store/shared_sweep.h; always with LMDB), so one host sweeps and the others skip. Also
//   hourly, on every host: the reinjection gate markers of this host's spool that no owed
//   reply names (reply/gate_marker.h, crash leftovers older than an hour).
//   Push() (a shared queue only, job_queue.h SHARED QUEUE) moves jobs the milter spooled
//   locally while the database was unreachable to the database: tried every
//   kPushIntervalMs while there are any, a failure logged at most once a minute.
//
// THREADING
//   Single-threaded (the supervisor).
#pragma once

#include <cstdint>
#include <memory>

#include "config/config.h"
#include "runtime/job_queue.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"

namespace threadmill::runtime {

// How often done jobs are swept: a quarter of the retention, between 1 s and 60 s.
int64_t SweepIntervalSeconds(int64_t done_retention_seconds);

class Housekeeping {
 public:
  // Queues jobs left running again; logs how many. Returns false when the store failed.
  static bool Recover(JobQueue& queue, int64_t now);

  // Sweeps when due (see file comment). `now` in unix seconds.
  void Sweep(JobQueue& queue, const std::shared_ptr<store::Environment>& env,
             const RuntimeConfig& runtime, const config::Config& config, int64_t now);
  // See file comment. `now_ms` on a steady clock.
  void Push(JobQueue& queue, int64_t now_ms);
  static constexpr int64_t kPushIntervalMs = 1000;
  // Seconds until the next sweep is due (for the poll time-out).
  int64_t SecondsToNextSweep(int64_t now) const {
    return next_jobs_s_ > now ? next_jobs_s_ - now : 0;
  }
  // How often the hourly sweeps of shared data ran here / were left to another host (or
  // skipped because the lease could not be asked).
  uint64_t shared_sweeps_run() const { return shared_sweeps_run_; }
  uint64_t shared_sweeps_skipped() const { return shared_sweeps_skipped_; }

  static constexpr int64_t kSharedSweepIntervalSeconds = 3600;

 private:
  void SweepKvAndDrafts(JobQueue& queue, const std::shared_ptr<store::Environment>& env,
                        const RuntimeConfig& runtime, const config::Config& config, int64_t now);

  int64_t next_jobs_s_ = 0;
  int64_t next_push_ms_ = 0;
  int64_t next_push_warning_ms_ = 0;
  int64_t next_ledger_s_ = 0;
  uint64_t shared_sweeps_run_ = 0;
  uint64_t shared_sweeps_skipped_ = 0;
};

}  // namespace threadmill::runtime
