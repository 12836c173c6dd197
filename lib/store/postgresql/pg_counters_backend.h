// pg_counters_backend.h - event counters in PostgreSQL (tm_counter, pg_schema.h): every host
// adds to the same totals, so /metrics and threadmillctl stats show the whole installation.
//
// DESCRIPTION
//   Add is one upsert (value = value + n): atomic whichever hosts add at once. All reads the
//   table in series byte order (series is bytea).
//
// THREADING
//   Thread-safe: every call takes its own pooled connection.
//
// LIMITS
//   Totals are bigint: they wrap past 2^63 (never in practice).
#pragma once

#include <memory>

#include "store/counters_backend.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

class PgCountersBackend final : public CountersBackend {
 public:
  explicit PgCountersBackend(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  Status Add(std::string_view series, uint64_t n) override;
  Result<std::vector<std::pair<std::string, uint64_t>>> All() const override;

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace threadmill::store::pg
