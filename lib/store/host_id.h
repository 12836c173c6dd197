// host_id.h - the name this host writes into the leases of the shared job queue
// (store/job_backend.h).
//
// DESCRIPTION
//   HostId(options) is the host name and the store directory ("mx1.example.org:/var/lib/
//   threadmill"): stable across restarts of one installation (so RecoverRunning at start
//   finds this host's own leases) and distinct for two installations on one machine (the
//   e2e rigs). One small function so that a configured [store] host_id can replace it.
//
// THREADING
//   Thread-safe.
#pragma once

#include <string>

#include "store/environment.h"

namespace threadmill::store {

std::string HostId(const EnvOptions& options);

}  // namespace threadmill::store
