// job_backend.h - the shared job queue of several MX hosts: job rows with their raw message,
// claimed with leases. runtime::JobQueue (runtime/job_queue.h) is the class callers use; it
// keeps the local LMDB spool and uses this backend when store::OpenStore attached one
// ([store] backend = "postgresql", environment.h SHARED BACKENDS).
//
// DESCRIPTION
//   A JobRow is the job's JSON record (runtime/job.h, opaque here) plus the columns the queue
//   works on; the columns win over the same fields inside the record. Jobs of one message
//   share one copy of it. (message_id, recipient, handler) is unique while the job is kept:
//   the same message routed on two hosts (an MTA delivering it to both) is one job in total.
//   ClaimDue makes due jobs running under this host's lease (lease_host, lease_until):
//   queued jobs with next_try <= now, and running jobs whose lease expired (a dead host's),
//   each host skipping rows another host is claiming. Only the lease holder may finish a
//   running job (Update with only_leased); RecoverRunning at start queues again only this
//   host's running jobs.
//
// THREADING
//   Implementations are thread-safe.
//
// LIMITS
//   Times are the callers' clocks (unix seconds): hosts need synchronized clocks (NTP); a
//   host whose clock runs ahead takes over leases early. The lease must exceed the time a
//   job may run (the supervisor sizes it from the handler's job timeout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::store {

struct JobRow {
  std::string id;
  std::string handler;
  char state = 'Q';  // 'Q' queued, 'R' running, 'P' parked, 'D' done
  int64_t attempts = 0;
  int64_t next_try = 0;
  int64_t updated = 0;
  std::string last_error;
  std::string message_id;  // normalized; "" = no dedupe
  std::string recipient;   // lower-cased (the dedupe key's part)
  std::string record;      // the job's JSON (runtime/job.h)
  // Set by ClaimDue: the host whose expired lease this claim took over ("" = none).
  std::string taken_from;
};

// One row of Insert: the job's id (the earlier job's when it existed) and whether it existed.
struct InsertedJob {
  std::string id;
  bool duplicate = false;
};

class JobBackend {
 public:
  virtual ~JobBackend() = default;

  // The host id written into leases (see file comment).
  virtual const std::string& host_id() const = 0;
  // Stores `rows` (one message, `message` its raw bytes) in one transaction. A row whose id
  // or (message_id, recipient, handler) exists already is not stored: duplicate, with the
  // existing job's id.
  virtual Result<std::vector<InsertedJob>> Insert(const std::vector<JobRow>& rows,
                                                  std::string_view message) = 0;
  virtual Result<std::optional<JobRow>> Get(std::string_view id) const = 0;
  // The raw message of job `id`: kNotFound when it is gone (done).
  virtual Result<std::string> ReadMessage(std::string_view id) const = 0;
  // Up to `limit` jobs, oldest (id order) first; only `state` when given.
  virtual Result<std::vector<JobRow>> List(size_t limit, std::optional<char> state) const = 0;
  // See file comment: at most capacity[handler] jobs of each handler, earliest first. They
  // come back running, attempts + 1, updated = now, leased until now + lease_seconds.
  virtual Result<std::vector<JobRow>> ClaimDue(int64_t now,
                                               const std::map<std::string, size_t>& capacity,
                                               int64_t lease_seconds) = 0;
  // Changes job `id` under a row lock: fn changes the row (id, handler, dedupe fields must
  // stay) or fails (nothing stored). kNotFound: no such job; with only_leased, also when it
  // is not running under this host's lease (taken over, or finished by someone else).
  // Leaving the running state drops the lease; done drops the message once no other job
  // of it needs it.
  virtual Status Update(std::string_view id, bool only_leased,
                        const std::function<Status(JobRow&)>& fn) = 0;
  // The earliest time something is due: a queued job's next_try or an expired lease.
  virtual Result<std::optional<int64_t>> NextDue() const = 0;
  virtual Result<size_t> Count(char state) const = 0;
  // This host's running jobs become queued, due now. Returns how many.
  virtual Result<size_t> RecoverRunning(int64_t now) = 0;
  // Removes at most `batch` done jobs updated before `older_than` (and messages no job
  // needs any more). Returns how many jobs.
  virtual Result<size_t> SweepDone(int64_t older_than, size_t batch) = 0;
};

}  // namespace threadmill::store
