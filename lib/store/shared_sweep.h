// shared_sweep.h - whether this host runs a retention sweep of shared data now.
//
// DESCRIPTION
//   TakeSharedSweep(env, name, now, interval): with no SweepLease attached to `env` (LMDB:
//   nothing is shared) always true; otherwise the lease `name` is tried for `interval`
//   seconds (sweep_lease.h), so across every host sharing the database one sweeps per
//   interval and the others skip. The lease names the host as "<hostname>:<pid>".
//   Local data (the LMDB job spool) is swept without asking.
//
// THREADING
//   Thread-safe.
//
// LIMITS
//   A lease error (database away) is returned: the caller skips that sweep and logs it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::store {

Result<bool> TakeSharedSweep(const Environment& env, std::string_view name, int64_t now,
                             int64_t interval_seconds);

// "<hostname>:<pid>" of the calling process.
std::string SweepHostName();

}  // namespace threadmill::store
