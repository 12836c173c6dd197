// job_queue.h - the durable job spool: raw messages on disk, job records in LMDB.
//
// DESCRIPTION
//   Enqueue (called by the milter at end of message, BEFORE it answers the MTA):
//     1. writes the raw message to <spool>/<job>.tmp, fsync()s it, renames it to
//        <spool>/<job>.eml and fsync()s the directory;
//     2. stores the job record in the `spool` database in one committed transaction;
//     3. pokes the supervisor through the FIFO <spool>/wake (non-blocking; when nobody
//        listens the supervisor still finds the job at its next poll_interval_ms scan).
//   When step 2 fails the file is removed and the error returned (the milter then applies
//   its failure policy; the message itself is never lost because of the spool).
//
//   The supervisor claims due jobs (ClaimDue: queued and next_try <= now, oldest first;
//   state running, attempts + 1, all in one transaction), and records each outcome
//   (Finish): done, retry with exponential backoff, or parked once max_attempts is reached.
//   At start it puts jobs left running by a crash or kill -9 back into the queue
//   (RecoverRunning): delivery is at least once; the reply ledger keeps replies once.
//
// THREADING
//   Thread-safe (every call runs its own transaction); used by many milter threads at once.
//   Never call from inside Environment::Read/Write callbacks.
//
// LIMITS
//   Due jobs are found by scanning the spool database (fine for thousands of waiting jobs;
//   done jobs are swept after done_retention_seconds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/job.h"
#include "store/environment.h"

namespace threadmill::runtime {

// What the milter knows about one routed message (see job.h for the fields' meaning).
struct JobInput {
  std::string handler;
  std::string route;  // RouteMatch::why
  std::string recipient;
  std::string mail_from;
  std::string client_addr;
  std::string queue_id;
  std::string message_id;  // normalized
  std::string thread_id;
  std::string thread_owner;
  bool thread_known = false;
  uint32_t references_count = 0;
  std::string dmarc = "none";
  std::string spf = "none";
  std::string dkim = "none";
  std::string no_reply_reason;
  // MAIL FROM itself authenticated (filter/reply_safety.h)
  bool sender_authenticated = false;
  int64_t received_time = 0;     // 0 = now
  std::string_view raw_message;  // the whole message as received: headers, blank line, body
};

enum class Outcome { kDone, kRetry, kPark };

struct RetryPolicy {
  int64_t max_attempts = 5;
  int64_t initial_seconds = 30;
  int64_t max_seconds = 3600;
};

class JobQueue {
 public:
  // `spool_dir` is created (0750) when missing. Throws std::runtime_error when it cannot be.
  JobQueue(std::shared_ptr<store::Environment> env, std::string spool_dir);

  // See file comment. Returns the job id. Thread-safe.
  Result<std::string> Enqueue(const JobInput& input);

  Result<std::optional<Job>> Get(std::string_view id) const;
  // Up to `limit` jobs, oldest first; only `state` when given.
  Result<std::vector<Job>> List(size_t limit, std::optional<JobState> state = {}) const;
  // The spooled message of a job.
  Result<std::string> ReadMessage(const Job& job) const;

  // Claims up to `max` due jobs for which accept(job) is true. They come back running.
  Result<std::vector<Job>> ClaimDue(int64_t now, size_t max,
                                    const std::function<bool(const Job&)>& accept);
  // Records the outcome of a running job's attempt; returns the updated job. kRetry turns
  // into parked when attempts reached policy.max_attempts. Done removes the message file.
  Result<Job> Finish(std::string_view id, Outcome outcome, std::string_view reason, int64_t now,
                     const RetryPolicy& policy);
  // Jobs left running (crash, kill -9, stop) become queued, due now. Returns how many.
  Result<size_t> RecoverRunning(int64_t now);
  // Operator: queue a parked (or any not running) job again with a fresh attempt count.
  Status Retry(std::string_view id, int64_t now);
  // Operator: park a queued job.
  Status Park(std::string_view id, std::string_view reason, int64_t now);
  // Removes done jobs last updated before `older_than`. Returns how many.
  Result<size_t> SweepDone(int64_t older_than);

  // Wakes the supervisor (best effort).
  void Poke() const;

  const std::string& spool_dir() const { return spool_dir_; }
  // The wake-up FIFO of a spool directory.
  static std::string WakePath(const std::string& spool_dir) { return spool_dir + "/wake"; }

 private:
  Status Update(std::string_view id, const std::function<Status(Job&)>& change, Job* out);

  std::shared_ptr<store::Environment> env_;
  std::string spool_dir_;
};

}  // namespace threadmill::runtime
