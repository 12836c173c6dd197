// pg_process_backends.h - the PostgreSQL backends of one process (thread store, ledger, job
// queue, KV, counters, drafts, sweep leases, census), opened lazily: the connection pool is made by
// the first call in a process, never before fork.
//
// DESCRIPTION
//   The daemon forks (supervisor, workers) after its configuration is read; a libpq
//   connection must never be used by two processes. MakeProcessBackends() returns backends
//   that connect on first use and remember the pid that connected: in a forked child the
//   inherited pool is abandoned (deliberately never closed: PQfinish would send a Terminate
//   on the parent's socket) and a fresh one is opened. A failed open is remembered for
//   Options::retry_after_ms (calls meanwhile fail at once, kTemporary); then the next call
//   tries again (each attempt bounded by the connect timeout, pg_conn.h). Every call is
//   timed and counted per operation (ProcessBackends::stats, /metrics).
//
// THREADING
//   Thread-safe.
//
// LIMITS
//   Up to 16 idle connections per process (kProcessPoolIdle: one per concurrent SMTP session).
//   Connect and statement timeouts of Options (pg_conn.h; [store] connect_timeout_ms,
//   statement_timeout_ms) fail the call with kTemporary, which callers treat like any store
//   error. One call waits at most one of them (a transaction: statement_timeout_ms + grace
//   in all); after a failure the pool's retry_after_ms makes the next calls fail at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "store/census_backend.h"
#include "store/counters_backend.h"
#include "store/draft_backend.h"
#include "store/environment.h"
#include "store/job_backend.h"
#include "store/kv_backend.h"
#include "store/ledger_backend.h"
#include "store/postgresql/pg_pool.h"
#include "store/sweep_lease.h"
#include "store/thread_backend.h"

namespace threadmill::store::pg {

struct ProcessBackends {
  std::shared_ptr<ThreadBackend> threads;
  std::shared_ptr<LedgerBackend> ledger;
  std::shared_ptr<KvBackend> kv;
  std::shared_ptr<CountersBackend> counters;
  std::shared_ptr<DraftBackend> drafts;
  std::shared_ptr<SweepLease> sweep_lease;
  std::shared_ptr<JobBackend> jobs;
  // What this process's calls did (store/environment.h BackendStats; /metrics).
  std::function<BackendStats()> stats;
  std::shared_ptr<CensusBackend> census;  // rows of the shared tables (stats)
};

// Every backend shares one lazily opened pool on `dsn` (a libpq connection string); the job
// backend writes `host_id` into its leases (store/host_id.h); `retention_seconds` ([store]
// retention_days) decides whether the thread backend answers this process's recent messages
// from memory (pg_recent_messages.h; 0: never).
ProcessBackends MakeProcessBackends(std::string dsn, std::string host_id,
                                    PgPool::Options options = {}, int64_t retention_seconds = 0);

}  // namespace threadmill::store::pg
