// pg_job_backend.h - the shared job queue (store/job_backend.h) in PostgreSQL: tm_job and
// tm_job_message (pg_schema.h version 2).
//
// DESCRIPTION
//   Insert of a one-job message is ONE statement (the job and its message in one INSERT
//   with a data-modifying CTE, autocommit); a message routed to several handlers or
//   recipients is one transaction. Duplicates (same id or the same (Message-ID, recipient,
//   handler)) are found by ON CONFLICT DO NOTHING: when two hosts insert the same job at the
//   same time, the second waits for the first's commit on the unique index and then finds
//   the existing job. ClaimDue is one UPDATE per handler over a SELECT ... FOR UPDATE SKIP
//   LOCKED: hosts claiming at once never wait for or double each other.
//
// THREADING
//   Thread-safe (each call takes a pooled connection).
//
// LIMITS
//   A done job's message is dropped when its last sibling is done; when two siblings finish
//   on two hosts at the same moment neither sees the other done and SweepDone drops it.
#pragma once

#include <memory>
#include <string>

#include "store/job_backend.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

class PgJobBackend final : public JobBackend {
 public:
  PgJobBackend(std::shared_ptr<PgPool> pool, std::string host_id);

  const std::string& host_id() const override { return host_id_; }
  Result<std::vector<InsertedJob>> Insert(const std::vector<JobRow>& rows,
                                          std::string_view message) override;
  Result<std::optional<JobRow>> Get(std::string_view id) const override;
  Result<std::string> ReadMessage(std::string_view id) const override;
  Result<std::vector<JobRow>> List(size_t limit, std::optional<char> state) const override;
  Result<std::vector<JobRow>> ClaimDue(int64_t now, const std::map<std::string, size_t>& capacity,
                                       int64_t lease_seconds) override;
  Status Update(std::string_view id, bool only_leased,
                const std::function<Status(JobRow&)>& fn) override;
  Result<std::optional<int64_t>> NextDue() const override;
  Result<size_t> Count(char state) const override;
  Result<size_t> RecoverRunning(int64_t now) override;
  Result<size_t> SweepDone(int64_t older_than, size_t batch) override;

 private:
  std::shared_ptr<PgPool> pool_;
  const std::string host_id_;
};

}  // namespace threadmill::store::pg
