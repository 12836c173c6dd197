// pg_process_backends.h - the PostgreSQL thread and ledger backends of one process, opened
// lazily: the connection pool is made by the first call in a process, never before fork.
//
// DESCRIPTION
//   The daemon forks (supervisor, workers) after its configuration is read; a libpq
//   connection must never be used by two processes. MakeProcessBackends() returns backends
//   that connect on first use and remember the pid that connected: in a forked child the
//   inherited pool is abandoned (deliberately never closed: PQfinish would send a Terminate
//   on the parent's socket) and a fresh one is opened. A failed open is remembered for
//   Options::retry_after_ms (calls meanwhile fail at once, kTemporary); then the next call
//   tries again (each attempt bounded by the connect timeout, pg_conn.h).
//
// THREADING
//   Thread-safe.
//
// LIMITS
//   Connect and statement timeouts of Options (pg_conn.h; [store] connect_timeout_ms,
//   statement_timeout_ms) fail the call with kTemporary, which callers treat like any store
//   error. One call waits at most one of them (a transaction: statement_timeout_ms + grace
//   in all); after a failure the pool's retry_after_ms makes the next calls fail at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/environment.h"
#include "store/ledger_backend.h"
#include "store/postgresql/pg_pool.h"
#include "store/thread_backend.h"

namespace threadmill::store::pg {

struct ProcessBackends {
  std::shared_ptr<ThreadBackend> threads;
  std::shared_ptr<LedgerBackend> ledger;
  // What this process's calls did (store/environment.h BackendStats; /metrics).
  std::function<BackendStats()> stats;
};

// Both backends share one lazily opened pool on `dsn` (a libpq connection string).
ProcessBackends MakeProcessBackends(std::string dsn, PgPool::Options options = {});

}  // namespace threadmill::store::pg
