// open_store.h - the one factory of the store: opens the local LMDB environment and, with
// [store] backend = "postgresql", attaches the shared PostgreSQL backends to it.
//
// DESCRIPTION
//   Every process (milter, supervisor, workers, threadmillctl, the console) opens its store
//   here, so nothing outside lib/store knows which backend is in use. Current state of
//   backend = "postgresql" (issue 13): the THREAD MAPPINGS, the REPLIED-ONCE / RATE LEDGER,
//   the ROUTED JOBS, handler KV, drafts and counters live in PostgreSQL (shared by several MX
//   hosts), and shared retention sweeps take a lease there (sweep_lease.h); only the fallback
//   job spool (jobs the milter spooled while the database was away) is in the local LMDB
//   environment at [store] path. ThreadStore(env), reply::ReplyLedger(env),
//   runtime::JobQueue, KvStore(env), Counters(env) and runtime::DraftStore(env) pick the
//   attached backends (environment.h SHARED BACKENDS).
//
// THREADING
//   Thread-safe. Call after fork (as Environment::Open): the PostgreSQL pool itself is opened
//   lazily by the first call of each process (postgresql/pg_process_backends.h), so opening
//   the store does not connect and an unreachable database does not stop a start.
//
// LIMITS
//   options.backend is "lmdb" or "postgresql" (config::Load refuses anything else); with
//   "postgresql" options.dsn is a libpq connection string.
#pragma once

#include <memory>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::store {

Result<std::shared_ptr<Environment>> OpenStore(const EnvOptions& options);

}  // namespace threadmill::store
