// host_id.h - the name this host writes into the leases of the shared job queue
// (store/job_backend.h); the reply ledger's claims carry the same [store] host_id.
//
// DESCRIPTION
//   HostId(options) is [store] host_id (config::Load defaults it to the host name) or, for
//   options not read from a configuration (tests), the host name and the store directory
//   ("mx1.example.org:/var/lib/threadmill"). It must be stable across restarts of one
//   installation (RecoverRunning at start finds this host's own leases) and distinct for
//   every installation sharing a database.
//
// THREADING
//   Thread-safe.
#pragma once

#include <string>

#include "store/environment.h"

namespace threadmill::store {

std::string HostId(const EnvOptions& options);

}  // namespace threadmill::store
