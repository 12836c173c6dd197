// sweep_lease.h - who runs a shared retention sweep now: one host at a time, once per interval.
//
// DESCRIPTION
//   Retention sweeps of data several hosts share (threads, the reply ledger, KV expiry,
//   drafts) must run once, not once per host. Before such a sweep a host asks
//   TryAcquire(name, host, now, until): true means the lease `name` was free (never taken or
//   expired at `now`) and is now this host's until `until`, so this host sweeps; false means
//   another host holds it and did (or does) the sweep of this interval. A lease is never
//   released: it runs out, so the next sweep is at most one interval later whichever host
//   wins it, and a host that died while sweeping delays the next sweep by one interval only.
//   Implementations:
//     (none)          local data: RunsSharedSweep() with no backend is always true
//     PgSweepLease    a row per lease in tm_sweep_lease (postgresql/pg_sweep_lease.h)
//
// THREADING
//   Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace threadmill::store {

class SweepLease {
 public:
  virtual ~SweepLease() = default;
  virtual Result<bool> TryAcquire(std::string_view name, std::string_view host, int64_t now,
                                  int64_t until) = 0;
};

}  // namespace threadmill::store
