// pg_pool.h - a small pool of PostgreSQL connections shared by the backends of one process.
//
// DESCRIPTION
//   Open() connects once and applies the schema migrations (pg_schema.h), so a pool handed
//   out is ready. Acquire() gives an idle connection or opens a new one; the Lease gives it
//   back when it is healthy (connected, no transaction open) and drops it otherwise. A
//   connection found broken drops every idle one too (after a database restart or fail-over
//   they are all stale). An idle connection handed out reconnects once by itself when its
//   first statement finds it lost (PgConn::MarkReused), so a database restart or a promoted
//   standby (multi-host DSN with target_session_attrs=read-write) costs no failed call when
//   the database is back; while it is away, calls fail at once with kTemporary.
//
// THREADING
//   Thread-safe. A Lease is used by one thread.
//
// LIMITS
//   round_trips() counts the round trips of every connection of the pool (added when a Lease
//   ends), so a test can assert what a store call costs.
//   At most max_idle idle connections are kept; there is no cap on connections in use (one
//   per thread calling the store at the same time). Connect and statements: Options::timeouts
//   (pg_conn.h). After a connect that failed or a wait that ran out, Acquire fails at once
//   (kTemporary, naming the last error) for Options::retry_after_ms before it tries to
//   connect again: a database that is away costs one message about one time-out, and the
//   following messages nothing, instead of every store call waiting its own time-out.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/postgresql/pg_conn.h"

namespace threadmill::store::pg {

class PgPool : public std::enable_shared_from_this<PgPool> {
 public:
  class Lease {
   public:
    Lease(std::shared_ptr<PgPool> pool, std::unique_ptr<PgConn> conn)
        : pool_(std::move(pool)),
          conn_(std::move(conn)),
          round_trips_at_start_(conn_ ? conn_->round_trips() : 0) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    PgConn& operator*() const { return *conn_; }
    PgConn* operator->() const { return conn_.get(); }

   private:
    std::shared_ptr<PgPool> pool_;
    std::unique_ptr<PgConn> conn_;
    uint64_t round_trips_at_start_ = 0;
  };

  struct Options {
    size_t max_idle = 8;
    Timeouts timeouts;
    int64_t retry_after_ms = 2000;  // after a connect failure or a time-out (LIMITS)
  };
  // Connects to `dsn` (libpq connection string) and migrates the schema.
  static Result<std::shared_ptr<PgPool>> Open(const std::string& dsn, Options options);
  static Result<std::shared_ptr<PgPool>> Open(const std::string& dsn) {
    return Open(dsn, Options{});
  }

  Result<Lease> Acquire();
  // Round trips of the connections' ended leases (pg_conn.h round_trips()).
  uint64_t round_trips() const { return round_trips_.load(); }

  // Counters for /metrics (a snapshot).
  struct Stats {
    uint64_t connects = 0;          // connections opened
    uint64_t connect_failures = 0;  // connects failed or timed out
    uint64_t timeouts = 0;          // connections abandoned after a wait ran out
    size_t idle = 0;                // connections idle in the pool now
    size_t in_use = 0;              // connections leased now
  };
  Stats stats() const;

 private:
  PgPool(std::string dsn, Options options) : dsn_(std::move(dsn)), options_(options) {}
  void Release(std::unique_ptr<PgConn> conn);

  const std::string dsn_;
  const Options options_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  std::atomic<uint64_t> round_trips_{0};
  int64_t retry_at_ms_ = 0;  // steady ms: no connect before this (LIMITS)
  std::string last_error_;
  Stats stats_;
};

}  // namespace threadmill::store::pg
