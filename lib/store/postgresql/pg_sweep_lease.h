// pg_sweep_lease.h - the lease on a shared retention sweep as a row of tm_sweep_lease
// (pg_schema.h): name -> (host, until). See store/sweep_lease.h.
//
// DESCRIPTION
//   TryAcquire is one upsert that takes the row only when it is missing or ran out by `now`
//   (INSERT ... ON CONFLICT DO UPDATE ... WHERE until <= now RETURNING): two hosts asking at
//   once queue on the row, the second sees the first's fresh lease and gets false.
//
// THREADING
//   Thread-safe: every call takes its own pooled connection.
//
// LIMITS
//   `now` is the caller's clock: hosts need synchronized clocks (NTP); a skew shifts when the
//   next host may sweep, never lets two sweep within one lease.
#pragma once

#include <memory>

#include "store/postgresql/pg_pool.h"
#include "store/sweep_lease.h"

namespace threadmill::store::pg {

class PgSweepLease final : public SweepLease {
 public:
  explicit PgSweepLease(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  Result<bool> TryAcquire(std::string_view name, std::string_view host, int64_t now,
                          int64_t until) override;

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace threadmill::store::pg
