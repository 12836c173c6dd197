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
//   EnqueueMessage (the milter's path) spools one message for all its jobs: the message is
//   written once (IncomingMessage::Persist) and hard-linked as <spool>/<job>.eml per job, so
//   each job's done-removal still removes only its own name; the records commit in one
//   transaction. (Message-ID, recipient, handler) is remembered in the kv database under a
//   reserved namespace: the same message accepted again (an MTA retry) creates no second
//   job. A spool quota (the bytes of the files in the spool directory, rescanned at most
//   every few seconds) refuses new messages with kTemporary "spool quota".
//
//   Every job write also keeps the `spool_index` database (schema.h: state + time + id), so
//   the supervisor's work per poll follows the jobs due, running or swept, never the number
//   kept: ClaimDue (queued and next_try <= now, earliest first; a read transaction when
//   nothing is due) makes them running with attempts + 1 in one transaction. The supervisor
//   records each outcome (Finish): done, retry with exponential backoff, or parked once
//   max_attempts is reached. At start it puts jobs left running by a crash or kill -9 back into the
//   queue (RecoverRunning): delivery is at least once; the reply ledger keeps replies once.
//   SweepDone removes done jobs older than the retention, oldest first, through the index.
//
// THREADING
//   Thread-safe (every call runs its own transaction); used by many milter threads at once.
//   Never call from inside Environment::Read/Write callbacks.
//
// SHARED QUEUE ([store] backend = "postgresql", store/job_backend.h)
//   When store::OpenStore attached a job backend, routed messages' jobs live there with their
//   raw message (Job::file is ""), claimed under this host's lease so each runs on one host at
//   a time; ClaimDue also takes over running jobs whose lease expired (a dead host's), and
//   RecoverRunning only touches this host's leases. FALLBACK: when EnqueueMessage cannot
//   reach the database (kTemporary/kStore) the jobs go to the local LMDB spool as above
//   (Enqueued::fallback); they are not run here (their replies need the shared ledger) but
//   pushed to the database by PushLocal (the supervisor's housekeeping) once it answers:
//   inserted by job id and dedupe key (ON CONFLICT DO NOTHING), then removed locally, so a
//   crash between the two pushes nothing twice and a job routed meanwhile on another host is
//   not doubled. Enqueue() (draft decisions: the draft store is local) always uses the local
//   spool, and those jobs run here. Get/Finish/Retry/Park/SetVerdicts look in the local spool
//   first, then in the shared queue; List and Count show both.
//
// LIMITS
//   Due jobs of a handler that is not loaded are skipped (not claimed) at every poll: the cost
//   grows with their number until the handler is loaded again. List() without a state scans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mutex>

#include "common/result.h"
#include "runtime/incoming_message.h"
#include "runtime/job.h"
#include "store/environment.h"
#include "store/job_backend.h"

namespace threadmill::runtime {

// What the milter knows about one routed message (see job.h for the fields' meaning).
struct JobInput {
  std::string handler;
  std::string route;  // RouteMatch::why
  std::string recipient;
  std::string mail_from;
  std::string client_addr;
  std::string helo;
  std::string queue_id;
  std::string message_id;  // normalized
  std::string thread_id;
  std::string thread_owner;
  std::string parent_message_id;  // Resolution::parent
  bool thread_known = false;
  uint32_t references_count = 0;
  std::string dmarc = "none";
  std::string spf = "none";
  std::string dkim = "none";
  std::string no_reply_reason;
  // MAIL FROM itself authenticated (filter/reply_safety.h)
  bool sender_authenticated = false;
  bool arc_override = false;  // dmarc=fail overridden by a trusted ARC sealer (auth/arc_policy.h)
  int64_t received_time = 0;     // 0 = now
  std::string_view raw_message;  // the whole message as received: headers, blank line, body
  std::string kind;              // Job::kind
  std::string draft_id;          // Job::draft_id
};

// One job of EnqueueMessage: its id, and whether it existed already (not created again).
struct Enqueued {
  std::string id;
  bool duplicate = false;
  bool fallback = false;  // the shared queue was unreachable: spooled locally (file comment)
};

// kDefer: the job did not run (its verdicts wait for DNS, reauth.h): queued again after
// RetryPolicy::defer_seconds, the attempt not counted.
enum class Outcome { kDone, kRetry, kPark, kDefer };

struct RetryPolicy {
  int64_t max_attempts = 5;
  int64_t initial_seconds = 30;
  int64_t max_seconds = 3600;
  int64_t defer_seconds = 15;  // [auth] reauth_retry_seconds
};

class JobQueue {
 public:
  // `spool_dir` is created (0750) when missing. Throws std::runtime_error when it cannot be.
  JobQueue(std::shared_ptr<store::Environment> env, std::string spool_dir);

  // See file comment. Returns the job id. Thread-safe.
  Result<std::string> Enqueue(const JobInput& input);
  // See file comment: one spool copy for all `inputs` (their raw_message is ignored; the
  // message comes from `message`, which must be complete). quota_bytes: the spool quota
  // (0 = none). Thread-safe.
  Result<std::vector<Enqueued>> EnqueueMessage(const std::vector<JobInput>& inputs,
                                               IncomingMessage& message, uint64_t quota_bytes);
  // Bytes of the spooled files in the spool directory (each file once, whatever its links;
  // messages still arriving not counted), as of the last scan (at most a few seconds old)
  // plus what this process spooled since.
  uint64_t UsedBytes();
  // Removes in-*.tmp files left in the spool directory by a crashed milter. Returns how many.
  size_t RemoveStaleIncoming();

  Result<std::optional<Job>> Get(std::string_view id) const;
  // Up to `limit` jobs, oldest first; only `state` when given.
  Result<std::vector<Job>> List(size_t limit, std::optional<JobState> state = {}) const;
  // The spooled message of a job.
  Result<std::string> ReadMessage(const Job& job) const;

  // Claims up to `max` due jobs of the LOCAL spool for which accept(job) is true. They come
  // back running.
  Result<std::vector<Job>> ClaimDue(int64_t now, size_t max,
                                    const std::function<bool(const Job&)>& accept);
  // Claims due jobs, at most capacity[handler] of each handler (handlers not in the map: none),
  // earliest first within each handler; one handler's backlog never keeps another's due jobs
  // from being claimed (the scan goes on past jobs of handlers that are full). With a shared
  // queue, its jobs first (leased for lease_seconds), then local draft decisions.
  Result<std::vector<Job>> ClaimDue(int64_t now, const std::map<std::string, size_t>& capacity,
                                    int64_t lease_seconds = kDefaultLeaseSeconds);
  static constexpr int64_t kDefaultLeaseSeconds = 300;
  // The earliest next_try of a queued job (nullopt: none queued). Read-only.
  Result<std::optional<int64_t>> NextDue() const;
  // Jobs in `state`, counted through the index.
  Result<size_t> Count(JobState state) const;
  // Count() of the local LMDB spool only, and of the shared queue only (0 without one).
  Result<size_t> CountLocal(JobState state) const;
  Result<size_t> CountShared(JobState state) const;
  // Rebuilds spool_index when its size differs from the spool's (a store written before the
  // index existed, or by an older threadmill). Returns the entries written (0: it was right).
  Result<size_t> RebuildIndex();
  // Records the outcome of a running job's attempt; returns the updated job. kRetry turns
  // into parked when attempts reached policy.max_attempts. Done removes the message file.
  Result<Job> Finish(std::string_view id, Outcome outcome, std::string_view reason, int64_t now,
                     const RetryPolicy& policy);
  // Stores what re-authentication decided (dmarc, spf, dkim, sender_authenticated,
  // no_reply_reason, reauth of `from`) in job `id`, whatever its state.
  Status SetVerdicts(std::string_view id, const Job& from);
  // Jobs left running (crash, kill -9, stop) become queued, due now. Returns how many. With
  // a shared queue only this host's leased jobs, and an unreachable database is no error
  // (the leases expire and ClaimDue takes their jobs back).
  Result<size_t> RecoverRunning(int64_t now);
  // Operator: queue a parked (or any not running) job again with a fresh attempt count.
  Status Retry(std::string_view id, int64_t now);
  // Operator: park a queued job.
  Status Park(std::string_view id, std::string_view reason, int64_t now);
  // At most this many done jobs are removed per SweepDone call (one write transaction).
  static constexpr size_t kSweepBatch = 1000;
  // Removes done jobs last updated before `older_than`, oldest first, at most `batch`.
  // Returns how many.
  Result<size_t> SweepDone(int64_t older_than, size_t batch = kSweepBatch);

  // Shared queue only: pushes up to `batch` local fallback jobs (queued inbound jobs of the
  // local spool) to the shared queue (see SHARED QUEUE). Returns how many left the local
  // spool (pushed, or found there already). 0 without a shared queue.
  Result<size_t> PushLocal(size_t batch = 100);
  // Shared queue only: local fallback jobs waiting for the database (0 without one).
  Result<size_t> LocalFallbackDepth() const;
  bool shared() const { return shared_ != nullptr; }

  // Wakes the supervisor (best effort).
  void Poke() const;

  const std::string& spool_dir() const { return spool_dir_; }
  // The wake-up FIFO of a spool directory.
  static std::string WakePath(const std::string& spool_dir) { return spool_dir + "/wake"; }

 private:
  static Job MakeJob(const JobInput& in, const std::string& spool_dir, size_t size);
  Result<std::vector<Job>> ClaimDue(int64_t now, size_t max,
                                    const std::function<bool(const Job&)>& accept,
                                    const std::function<void()>& begin);
  Status Update(std::string_view id, const std::function<Status(Job&)>& change, Job* out);
  // The same change of a job wherever it is (local first, then shared; only_leased: a shared
  // job only while this host holds its lease).
  Status UpdateAnywhere(std::string_view id, bool only_leased,
                        const std::function<Status(Job&)>& change, Job* out);
  Result<std::vector<Enqueued>> EnqueueLocal(const std::vector<JobInput>& inputs,
                                             IncomingMessage& message, uint64_t quota_bytes);
  Result<std::vector<Enqueued>> EnqueueShared(const std::vector<JobInput>& inputs,
                                              IncomingMessage& message);
  Result<std::optional<Job>> GetLocal(std::string_view id) const;
  Result<std::vector<Job>> ListLocal(size_t limit, std::optional<JobState> state) const;
  Result<std::optional<int64_t>> NextDueLocal() const;
  Result<size_t> RecoverRunningLocal(int64_t now);
  Result<size_t> SweepDoneLocal(int64_t older_than, size_t batch);
  // Removes a local job's record, index entry, dedupe record and file.
  Status RemoveLocal(const Job& job);

  std::shared_ptr<store::Environment> env_;
  std::shared_ptr<store::JobBackend> shared_;  // null: LMDB only
  std::string spool_dir_;
  std::mutex usage_mutex_;
  uint64_t used_bytes_ = 0;
  int64_t used_scanned_ = 0;  // steady seconds of the last scan, 0 = never
};

// The kv namespace of the spool's (Message-ID, recipient, handler) records: not a valid
// handler name, so no handler can read or write it.
inline constexpr std::string_view kSpoolDedupeNamespace{"\x02spool-dedupe\0", 14};
// Its key for one job.
std::string SpoolDedupeKey(std::string_view message_id, std::string_view recipient,
                           std::string_view handler);

}  // namespace threadmill::runtime
