// pg_conn.h - one libpq connection: prepared statements with binary parameters and results,
// SQLSTATE-aware errors, serializable transactions retried on conflicts.
//
// DESCRIPTION
//   libpq (not libpqxx): a C API without exceptions, so errors map straight to Result/Status
//   (docs/decisions.md). Every parameter and result column travels in binary format: bytea
//   and text as their bytes, int8 as 8 big-endian bytes; Message-IDs of any bytes survive.
//   A statement is prepared on its first use on a connection (name -> SQL must not change),
//   in the same round trip as its first execution (libpq pipeline mode, PostgreSQL 14+ client).
//   Round trips: Transact sends no BEGIN of its own; BEGIN travels with the transaction's
//   first statement, and RunAndCommit sends the last statement with COMMIT, so a transaction
//   of n statements costs n round trips. round_trips() counts them (tests assert the milter
//   path's cost with it; pg_pool.h sums them per pool).
//   Errors: kTemporary for connection trouble (SQLSTATE class 08, 57P, 53) and serialization
//   failures / deadlocks (40001, 40P01); kStore otherwise. last_sqlstate() tells which.
//
// THREADING
//   A PgConn is used by one thread at a time (PgPool hands it out).
//
// LIMITS
//   Every wait is bounded on the client, whatever the server or the network do (a server
//   that accepts and never answers, a stopped host, a black-holed route): Connect at most
//   Timeouts::connect_ms (libpq's own connect_timeout has whole seconds, at least 2); a
//   statement (or a pipeline of them), or a whole Transact with its retries, at most
//   Timeouts::statement_ms (also set as the server's statement_timeout, so a lock held by
//   another host is cancelled there: 57014; the client waits StatementGraceMs longer for that
//   cancel before it gives up). A connection whose wait ran out is abandoned (timed_out(),
//   broken()): its socket is closed, never reused. Transact retries a conflicting transaction
//   at most kMaxTxnAttempts times, after a random pause of up to kMaxRetryPauseMs (grows with
//   the attempt) so that two hosts do not collide again. A host name in the DSN is resolved
//   (getaddrinfo) without the bound.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::store::pg {

inline constexpr int64_t kDefaultConnectTimeoutMs = 2000;
inline constexpr int64_t kDefaultStatementTimeoutMs = 3000;

// How long after statement_ms the client gives up on its own (the server's cancel at
// statement_ms normally comes first): min(statement_ms, 1000).
constexpr int64_t StatementGraceMs(int64_t statement_ms) {
  return statement_ms < 1000 ? statement_ms : 1000;
}

// Client-side bounds of one connection ([store] connect_timeout_ms, statement_timeout_ms).
struct Timeouts {
  int64_t connect_ms = kDefaultConnectTimeoutMs;
  int64_t statement_ms = kDefaultStatementTimeoutMs;  // 0: no limit (migrations)
};
inline constexpr int kMaxTxnAttempts = 20;
inline constexpr int kMaxRetryPauseMs = 50;

enum class TxnMode {
  kReadOnly,       // REPEATABLE READ READ ONLY: one snapshot
  kSerializable,   // SERIALIZABLE: as if alone (conflicts are retried)
  kReadCommitted,  // READ COMMITTED: the caller serializes with row locks (FOR UPDATE, upserts)
};

// Parameter types (pg_type OIDs).
inline constexpr Oid kBytea = 17;
inline constexpr Oid kInt8 = 20;
inline constexpr Oid kText = 25;

struct Statement {
  const char* name;
  const char* sql;
  std::vector<Oid> types;
};

// A binary parameter.
struct Param {
  std::string bytes;
  static Param Bytes(std::string_view b) { return Param{std::string(b)}; }
  static Param Int8(int64_t v);
};

// A query result (binary columns).
class Rows {
 public:
  explicit Rows(PGresult* res) : res_(res, &PQclear) {}
  int size() const { return PQntuples(res_.get()); }
  std::string_view Bytes(int row, int col) const;
  int64_t Int8(int row, int col) const;
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t Affected() const;
  const PGresult* res() const { return res_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> res_;
};

class PgConn {
 public:
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& dsn, Timeouts timeouts);
  ~PgConn() = default;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs a prepared statement (prepared on first use). Inside Transact, the first statement
  // carries the BEGIN.
  Result<Rows> Run(const Statement& st, const std::vector<Param>& params);
  // Run, then COMMIT in the same round trip; Transact then has nothing left to commit. As the
  // last statement of a Transact callback; outside one it is Run (the statement commits).
  Result<Rows> RunAndCommit(const Statement& st, const std::vector<Param>& params);
  // Runs SQL without parameters (may hold several statements; DDL, BEGIN/COMMIT).
  Result<Rows> Simple(const std::string& sql);

  // Runs fn inside BEGIN ISOLATION LEVEL <mode> ... COMMIT; rolls back when fn fails. A
  // serialization failure, deadlock or unique violation (another host won a race) runs fn
  // again, at most kMaxTxnAttempts times.
  Status Transact(TxnMode mode, const std::function<Status()>& fn);

  // false: statements wait for the server without a client-side bound (migrations, which
  // may rewrite big tables or wait for another host's migration lock).
  void set_bounded(bool bounded) { bounded_ = bounded; }

  // Connected with no transaction open (may go back to the pool).
  bool healthy() const;
  // The connection to the server is lost, or abandoned after a wait ran out.
  bool broken() const { return timed_out_ || PQstatus(conn_.get()) != CONNECTION_OK; }
  // A wait for the server ran out (the server or the route to it does not answer).
  bool timed_out() const { return timed_out_; }
  // Called by the pool when it hands out an idle connection: if the first statement then
  // finds the connection lost (the server restarted, or a standby was promoted while this
  // connection sat idle) it reconnects with the same DSN once and runs that statement again
  // (with the BEGIN it carries). Only the first statement of a lease: it is BEGIN's or a
  // statement of its own, so nothing half done is replayed, and a server that is really gone
  // still fails at once.
  void MarkReused() { reused_ = true; }
  const std::string& last_sqlstate() const { return sqlstate_; }
  // Round trips to the server since the connection was opened (connecting not counted).
  uint64_t round_trips() const { return round_trips_; }

 private:
  // One command of a pipeline: SQL without parameters (st == nullptr), or a prepared
  // statement's preparation (prepare) or execution.
  struct Op {
    const Statement* st = nullptr;
    const char* sql = nullptr;
    bool prepare = false;
    const std::vector<Param>* params = nullptr;
  };

  PgConn(PGconn* conn, Timeouts timeouts) : conn_(conn, &PQfinish), timeouts_(timeouts) {}
  Error Fail(const char* what, const PGresult* res);
  Error TimedOut(const char* what);
  int64_t Deadline() const;
  // Polls a connect (or a reset) to its end within Timeouts::connect_ms.
  Status FinishConnect(PostgresPollingStatusType (*poll)(PGconn*));
  // Flushes what is queued to the server, then waits until PQgetResult will not block.
  Status Flush(const char* what, int64_t deadline);
  Result<PGresult*> NextResult(const char* what, int64_t deadline);
  // Sends with `send` (a PQsend* call), then collects its results until the deadline.
  Result<Rows> Exchange(const char* what, const std::function<int()>& send);
  Status ApplySessionSettings();
  // Runs exec; see MarkReused.
  Result<Rows> Revalidated(const std::function<Result<Rows>()>& exec);
  Result<Rows> SimpleOnce(const std::string& sql);
  // Sends `ops` in one round trip; the rows of the last one, or the first error.
  Result<Rows> Pipeline(const std::vector<Op>& ops);
  Result<Rows> RunWith(const Statement& st, const std::vector<Param>& params, bool commit);

  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
  std::set<std::string> prepared_;
  std::string sqlstate_;
  const char* pending_begin_ = nullptr;  // Transact's BEGIN, not sent yet
  bool committed_ = false;               // RunAndCommit ended Transact's transaction
  bool in_transact_ = false;             // inside Transact's fn
  bool poisoned_ = false;                // a pipeline went wrong: never reuse
  uint64_t round_trips_ = 0;
  Timeouts timeouts_;
  int64_t txn_deadline_ms_ = 0;  // steady ms; inside Transact, the bound of the whole call
  bool timed_out_ = false;
  bool bounded_ = true;
  bool reused_ = false;
};

}  // namespace threadmill::store::pg
