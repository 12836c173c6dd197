// pg_sweep_lease.cc - see pg_sweep_lease.h.
#include "store/postgresql/pg_sweep_lease.h"

namespace threadmill::store::pg {
namespace {

const Statement kAcquire{"tm_sweep_lease_acquire",
                         "INSERT INTO tm_sweep_lease (name, host, until) VALUES ($1, $2, $4) "
                         "ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, "
                         "until = EXCLUDED.until WHERE tm_sweep_lease.until <= $3 RETURNING host",
                         {kText, kText, kInt8, kInt8}};

}  // namespace

Result<bool> PgSweepLease::TryAcquire(std::string_view name, std::string_view host, int64_t now,
                                      int64_t until) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(
      kAcquire, {Param::Bytes(name), Param::Bytes(host), Param::Int8(now), Param::Int8(until)});
  if (!rows.ok()) return rows.error();
  return rows->size() > 0;
}

}  // namespace threadmill::store::pg
