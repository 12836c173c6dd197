// pg_census_backend.h - rows of each shared table (pg_schema.h) for threadmillctl stats and the
// console's stats page (census_backend.h): the totals of every host sharing the database.
//
// DESCRIPTION
//   Entries() counts every tm_* table of the schema in one statement (one round trip, one
//   snapshot): tm_message, tm_thread, tm_thread_index (thread mappings), tm_replied_once,
//   tm_ledger (reply ledger), tm_job, tm_job_message (shared job queue), tm_kv, tm_counter,
//   tm_draft, tm_sweep_lease.
//
// THREADING
//   Thread-safe: every call takes its own pooled connection.
//
// LIMITS
//   Exact counts (count(*)): a sequential or index-only scan of each table, so on tables of
//   tens of millions of rows the call may run into [store] statement_timeout_ms (kTemporary).
#pragma once

#include <memory>

#include "store/census_backend.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

class PgCensusBackend final : public CensusBackend {
 public:
  explicit PgCensusBackend(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  std::string_view backend() const override { return "postgresql"; }
  Result<std::vector<std::pair<std::string, uint64_t>>> Entries() const override;

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace threadmill::store::pg
