// environment.h - the one LMDB environment of threadmill: open, map growth, transactions.
//
// DESCRIPTION
//   Environment owns an MDB_env opened with MDB_NOTLS (libmilter runs one thread per
//   connection; a read transaction is not tied to its thread), all named databases of
//   schema.h, and the recoverable conditions:
//     - MDB_MAP_FULL: Write() aborts the transaction, doubles the map (up to
//       EnvOptions::max_map_size_bytes) and runs the callback again;
//     - MDB_MAP_RESIZED (another process grew the map past ours): the map is re-read with
//       mdb_env_set_mapsize(env, 0) and the transaction begun again;
//     - stale reader slots left by killed processes: mdb_reader_check() at open;
//     - a write that fails on a full filesystem (LMDB says EIO for a short write) is reported
//       as "no space left on device" with the free space (lmdb_error.h CheckDiskSpace).
//   Resizing needs every transaction of this process closed; a TxnGate (txn_gate.h) keeps
//   transactions shared and resizes exclusive.
//
// THREADING
//   Environment is thread-safe and may be shared (std::shared_ptr) by every thread of one
//   process. Other processes (workers, threadmillctl) open their own Environment on the
//   same directory; open it after fork(), never before, and never use an inherited one.
//
// SHARED BACKENDS
//   With [store] backend = "postgresql" (store/open_store.h OpenStore) the thread mappings,
//   the replied-once ledger, the routed jobs, handler KV, drafts and counters live in
//   PostgreSQL while the fallback job spool stays in this environment: OpenStore attaches
//   the shared backends here, and ThreadStore(env), reply::ReplyLedger(env),
//   runtime::JobQueue, KvStore(env), Counters(env) and runtime::DraftStore(env) use them;
//   shared retention sweeps take the attached SweepLease; StoreCensus(env) counts the shared
//   tables (store_census.h).
//   Without attached backends all use this environment.
//
// LIMITS
//   The directory must be on a local filesystem (LMDB's lock file). A read-only open still
//   needs write access to lock.mdb. Write callbacks may run more than once (after growth):
//   they must only act through the transaction and reset anything they capture. Nested
//   transactions on one thread are not supported (see txn_gate.h). The map never shrinks.
#pragma once

#include <lmdb.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "store/census_backend.h"
#include "store/counters_backend.h"
#include "store/draft_backend.h"
#include "store/kv_backend.h"
#include "store/job_backend.h"
#include "store/ledger_backend.h"
#include "store/schema.h"
#include "store/sweep_lease.h"
#include "store/thread_backend.h"
#include "store/txn.h"
#include "store/txn_gate.h"

namespace threadmill::store {

struct EnvOptions {
  std::string path;                              // directory; created when missing
  size_t map_size_bytes = size_t{256} << 20;     // initial map size
  size_t max_map_size_bytes = size_t{16} << 30;  // growth stops here (kTemporary)
  bool read_only = false;                        // MDB_RDONLY; directory not created
  unsigned max_readers = 512;                    // concurrent read txns, all processes
  // false: commits are not flushed to disk one by one (MDB_NOSYNC); the owner calls Sync()
  // periodically and after writes that must be durable (jobs). A process crash loses
  // nothing; a machine crash may lose the commits since the last Sync(), never integrity
  // on filesystems that keep write order (ext4, xfs).
  bool sync_each_commit = true;
  // [store] backend and dsn: where the thread mappings and the reply ledger live. Only
  // store::OpenStore (open_store.h) reads these; Environment::Open ignores them.
  std::string backend = "lmdb";
  std::string dsn;
  // [store] connect_timeout_ms, statement_timeout_ms: the client-side bounds of every
  // database call (store/postgresql/pg_conn.h).
  int64_t connect_timeout_ms = 2000;
  int64_t statement_timeout_ms = 3000;
  // [store] host_id: this host's name in job leases and reply claims (store/host_id.h).
  std::string host_id;
  // [store] retention_days in seconds (0: unknown). With PostgreSQL, a process answers the
  // Message-IDs it stored minutes ago from memory only when no sweep can have removed them
  // (store/postgresql/pg_recent_messages.h).
  int64_t retention_seconds = 0;
};

// What the shared backends of this process did (for /metrics): calls and errors per
// operation, time spent, whether the last call succeeded, and the connection pool.
struct BackendStats {
  std::string backend;  // "postgresql"
  bool up = false;      // the last call succeeded (false before the first call)
  struct Op {
    uint64_t calls = 0;
    uint64_t errors = 0;
    double seconds = 0;  // time spent in the calls, in all
  };
  std::map<std::string, Op> ops;  // "find_message", "record_message", "ledger_write", ...
  uint64_t connects = 0, connect_failures = 0, timeouts = 0;
  uint64_t idle_connections = 0, busy_connections = 0;
};

// The backends of shared data when they are not this environment (null: this environment).
struct SharedBackends {
  std::shared_ptr<ThreadBackend> threads;
  std::shared_ptr<LedgerBackend> ledger;
  std::shared_ptr<KvBackend> kv;
  std::shared_ptr<CountersBackend> counters;
  std::shared_ptr<DraftBackend> drafts;
  // Null: nothing is shared with other hosts, every sweep runs here.
  std::shared_ptr<SweepLease> sweep_lease;
  std::shared_ptr<JobBackend> jobs;  // runtime::JobQueue's shared queue (job_backend.h)
  std::function<BackendStats()> stats;  // a snapshot; empty for none
  std::shared_ptr<CensusBackend> census;  // store::StoreCensus: records of the shared tables
};

class Environment {
 public:
  // Opens (creating when read-write) the environment at options.path, opens every database
  // of schema.h and checks the schema version. Thread-safe; the result is shared by all
  // threads of the calling process. Errors: kInvalidInput (bad options), kPermission,
  // kStore, kTemporary. A missing environment opened read-only is an error (kStore).
  // Opening a directory that this process has open already returns that Environment (its
  // options win; kInvalidInput if read_only differs): LMDB forbids two handles on one file
  // in one process. A child after fork() gets a new handle, as it must.
  static Result<std::shared_ptr<Environment>> Open(const EnvOptions& options);

  // Flushes committed transactions to disk (mdb_env_sync, forced). Thread-safe.
  Status Sync();

  // Closes the environment. Every transaction must have ended.
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Runs fn in a read transaction and returns its status. fn must not keep views past its
  // return. Thread-safe (each call has its own transaction).
  Status Read(const std::function<Status(ReadTxn&)>& fn) const;

  // Runs fn in a write transaction and commits it when fn returns ok; aborts and returns
  // fn's error otherwise (if fn called Abort() itself, nothing is committed and its status
  // is returned). On MDB_MAP_FULL the transaction is aborted, the map grown and fn run
  // again, so fn may run several times. Thread-safe; writers are serialized by LMDB across
  // all processes. Errors from a read-only environment: kPermission.
  Status Write(const std::function<Status(WriteTxn&)>& fn);

  // Begins a read transaction the caller holds (e.g. to page through results). Handles
  // MDB_MAP_RESIZED. The caller's thread must not begin another transaction meanwhile.
  Result<ReadTxn> BeginRead() const;

  // The handle of a named database (kMissingDbi when absent from a read-only environment).
  // Valid for the Environment's lifetime, usable from any thread.
  MDB_dbi dbi(Db db) const { return dbis_[static_cast<size_t>(db)]; }

  const std::string& path() const { return options_.path; }
  bool read_only() const { return options_.read_only; }
  // The current map size of this process (grows over time).
  size_t map_size() const { return map_size_.load(); }
  // Stale reader slots cleared by mdb_reader_check() at open.
  int stale_readers_cleared() const { return stale_readers_; }
  // The raw environment, owned by this object; for mdb_env_stat and the like.
  MDB_env* raw() const { return env_; }

  // Backends for the thread store and the ledger that are not this environment (set once
  // by store::OpenStore; null members: this environment). Thread-safe.
  void AttachSharedBackends(SharedBackends backends);
  SharedBackends shared_backends() const;

 private:
  explicit Environment(const EnvOptions& options) : options_(options) {}
  Status OpenEnv();
  Status OpenDatabases();
  Status CheckSchema();
  Result<WriteTxn> BeginWrite();
  // Re-reads the map size after MDB_MAP_RESIZED. Takes the gate exclusively.
  Status AdoptResize() const;
  // Doubles the map unless someone already grew it past `seen`. Exclusive.
  Status Grow(size_t seen);
  void RefreshMapSize() const;
  // A failed write: names a full filesystem as such (lmdb_error.h CheckDiskSpace).
  Status CheckWriteError(const Status& st) const;

  EnvOptions options_;
  MDB_env* env_ = nullptr;
  std::array<MDB_dbi, kDbCount> dbis_{};
  mutable TxnGate gate_;
  mutable std::atomic<size_t> map_size_{0};
  int stale_readers_ = 0;
  mutable std::mutex shared_mutex_;
  SharedBackends shared_;
};

}  // namespace threadmill::store
