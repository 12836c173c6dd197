// pg_conn.cc - see pg_conn.h.
#include "store/postgresql/pg_conn.h"

#include <endian.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>

namespace threadmill::store::pg {
namespace {

bool Retryable(const std::string& sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "23505";
}

bool TemporaryState(const std::string& s) {
  // 08: connection, 53: resources, 57P: server shutting down, 57014: statement_timeout,
  // 40001/40P01: serialization failure / deadlock.
  return s.rfind("08", 0) == 0 || s.rfind("57P", 0) == 0 || s.rfind("53", 0) == 0 || s == "57014" ||
         s == "40001" || s == "40P01";
}

// A random pause before retry `attempt` (1..): up to 2^attempt ms, at most kMaxRetryPauseMs.
void RetryPause(int attempt) {
  thread_local std::minstd_rand random(static_cast<unsigned>(
      std::hash<std::thread::id>()(std::this_thread::get_id()) ^
      static_cast<size_t>(std::chrono::steady_clock::now().time_since_epoch().count())));
  const int ceiling = std::min(kMaxRetryPauseMs, 1 << std::min(attempt, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(random() % (ceiling + 1)));
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits until `fd` is readable (and writable when `write`) or the deadline (steady ms, -1 =
// none) passed. False when it passed.
bool WaitSocket(int fd, bool read, bool write, int64_t deadline_ms) {
  for (;;) {
    int timeout = -1;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - SteadyMs();
      if (left <= 0) return false;
      timeout = static_cast<int>(std::min<int64_t>(left, 60000));
    }
    pollfd p{fd, static_cast<short>((read ? POLLIN : 0) | (write ? POLLOUT : 0)), 0};
    int n = poll(&p, 1, timeout);
    if (n > 0) return true;  // ready, or an error/hang-up libpq will report
    if (n < 0 && errno != EINTR) return true;
  }
}

std::string Trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Param Param::Int8(int64_t v) {
  uint64_t be = htobe64(static_cast<uint64_t>(v));
  std::string b(8, '\0');
  std::memcpy(b.data(), &be, 8);
  return Param{std::move(b)};
}

std::string_view Rows::Bytes(int row, int col) const {
  return std::string_view(PQgetvalue(res_.get(), row, col),
                          static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}

int64_t Rows::Int8(int row, int col) const {
  std::string_view b = Bytes(row, col);
  if (b.size() != 8) return 0;
  uint64_t be = 0;
  std::memcpy(&be, b.data(), 8);
  return static_cast<int64_t>(be64toh(be));
}

int64_t Rows::Affected() const {
  const char* n = PQcmdTuples(res_.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& dsn, Timeouts timeouts) {
  // libpq's connect_timeout as a second guard (whole seconds, libpq makes it at least 2).
  const std::string seconds = std::to_string((timeouts.connect_ms + 999) / 1000);
  // Later keywords win: the DSN (expanded from "dbname") may override the defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {seconds.c_str(), "threadmill", dsn.c_str(), nullptr};
  PGconn* raw = PQconnectStartParams(keys, values, 1);
  if (raw == nullptr) return MakeError(ErrorCode::kTemporary, "postgresql: out of memory");
  std::unique_ptr<PgConn> conn(new PgConn(raw, timeouts));
  if (Status st = conn->FinishConnect(&PQconnectPoll); !st.ok()) return st.error();
  // Notices ("relation ... already exists, skipping") are not errors: do not print them.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  if (Status st = conn->ApplySessionSettings(); !st.ok()) return st.error();
  conn->round_trips_ = 0;  // connecting is not counted
  return conn;
}

Status PgConn::FinishConnect(PostgresPollingStatusType (*poll_fn)(PGconn*)) {
  PGconn* raw = conn_.get();
  const int64_t deadline = SteadyMs() + std::max<int64_t>(1, timeouts_.connect_ms);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (PQstatus(raw) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
         state != PGRES_POLLING_FAILED) {
    int fd = PQsocket(raw);
    if (fd < 0) break;
    if (!WaitSocket(fd, state == PGRES_POLLING_READING, state == PGRES_POLLING_WRITING, deadline)) {
      timed_out_ = true;
      return MakeError(ErrorCode::kTemporary, "postgresql: connect: no answer within " +
                                                  std::to_string(timeouts_.connect_ms) +
                                                  " ms ([store] connect_timeout_ms)");
    }
    state = poll_fn(raw);
  }
  if (PQstatus(raw) != CONNECTION_OK) {
    return MakeError(ErrorCode::kTemporary, "postgresql: connect: " + Trimmed(PQerrorMessage(raw)));
  }
  // Non-blocking: a send never blocks on a full socket (Flush waits with a deadline).
  if (PQsetnonblocking(raw, 1) != 0) {
    return MakeError(ErrorCode::kTemporary, "postgresql: connect: " + Trimmed(PQerrorMessage(raw)));
  }
  return {};
}

int64_t PgConn::Deadline() const {
  if (!bounded_ || timeouts_.statement_ms <= 0) return -1;
  if (txn_deadline_ms_ > 0) return txn_deadline_ms_;
  // A little beyond the server's own statement_timeout, so that the server's cancel (a
  // clean 57014, the connection kept) normally comes first.
  return SteadyMs() + timeouts_.statement_ms + StatementGraceMs(timeouts_.statement_ms);
}

Error PgConn::TimedOut(const char* what) {
  timed_out_ = true;  // a reply may still come: the connection is never used again
  sqlstate_.clear();
  return MakeError(ErrorCode::kTemporary,
                   std::string("postgresql: ") + what + ": no answer within " +
                       std::to_string(timeouts_.statement_ms) +
                       " ms ([store] statement_timeout_ms); connection abandoned");
}

Status PgConn::Flush(const char* what, int64_t deadline) {
  PGconn* c = conn_.get();
  const int fd = PQsocket(c);
  for (;;) {
    const int flushed = PQflush(c);
    if (flushed == 0) return {};
    if (flushed < 0) return Fail(what, nullptr);
    if (!WaitSocket(fd, true, true, deadline)) return TimedOut(what);
    if (PQconsumeInput(c) != 1) return Fail(what, nullptr);
  }
}

Result<PGresult*> PgConn::NextResult(const char* what, int64_t deadline) {
  PGconn* c = conn_.get();
  const int fd = PQsocket(c);
  while (PQisBusy(c)) {
    if (!WaitSocket(fd, true, false, deadline)) return TimedOut(what);
    if (PQconsumeInput(c) != 1) return Fail(what, nullptr);
  }
  return PQgetResult(c);
}

Result<Rows> PgConn::Exchange(const char* what, const std::function<int()>& send) {
  if (timed_out_) return TimedOut(what);
  const int64_t deadline = Deadline();
  ++round_trips_;
  if (send() != 1) return Fail(what, nullptr);
  if (Status st = Flush(what, deadline); !st.ok()) return st.error();
  // Collect every result; the first error (if any) or the last result is the answer.
  std::optional<Rows> answer;
  for (;;) {
    Result<PGresult*> res = NextResult(what, deadline);
    if (!res.ok()) return res.error();
    if (*res == nullptr) break;
    // Several results come from "BEGIN ...; statement" (Simple inside Transact): keep the
    // first failed one, else the last (the statement's rows, not BEGIN's).
    const ExecStatusType kept = answer ? PQresultStatus(answer->res()) : PGRES_COMMAND_OK;
    if (!answer || kept == PGRES_TUPLES_OK || kept == PGRES_COMMAND_OK) {
      answer.emplace(*res);
    } else {
      PQclear(*res);
    }
  }
  if (!answer) return Fail(what, nullptr);
  return std::move(*answer);
}

Status PgConn::ApplySessionSettings() {
  auto set = SimpleOnce("SET statement_timeout = " +
                        std::to_string(std::max<int64_t>(0, timeouts_.statement_ms)));
  if (!set.ok()) return set.error();
  return {};
}

Result<Rows> PgConn::Revalidated(const std::function<Result<Rows>()>& exec) {
  const bool first_after_idle = std::exchange(reused_, false);
  const char* begin = pending_begin_;
  Result<Rows> rows = exec();
  // Only a connection the server closed; one whose wait ran out stays abandoned.
  if (rows.ok() || !first_after_idle || timed_out_ || PQstatus(conn_.get()) == CONNECTION_OK) {
    return rows;
  }
  // A reset connects again with the same parameters (within connect_timeout_ms): with several
  // hosts and target_session_attrs=read-write that is the promoted standby.
  if (PQresetStart(conn_.get()) != 1 || !FinishConnect(&PQresetPoll).ok()) return rows;
  if (PQpipelineStatus(conn_.get()) != PQ_PIPELINE_OFF) return rows;
  prepared_.clear();  // statements are prepared per server session
  poisoned_ = false;
  if (!ApplySessionSettings().ok()) return rows;
  pending_begin_ = begin;
  return exec();
}

bool PgConn::healthy() const {
  return !poisoned_ && !timed_out_ && PQstatus(conn_.get()) == CONNECTION_OK &&
         PQtransactionStatus(conn_.get()) == PQTRANS_IDLE &&
         PQpipelineStatus(conn_.get()) == PQ_PIPELINE_OFF;
}

Error PgConn::Fail(const char* what, const PGresult* res) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  std::string message = res ? Trimmed(PQresultErrorMessage(res)) : "";
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_.get()));
  bool temporary = TemporaryState(sqlstate_) || PQstatus(conn_.get()) != CONNECTION_OK;
  return MakeError(temporary ? ErrorCode::kTemporary : ErrorCode::kStore,
                   std::string("postgresql: ") + what + ": " +
                       (sqlstate_.empty() ? "" : "[" + sqlstate_ + "] ") + message);
}

Result<Rows> PgConn::Run(const Statement& st, const std::vector<Param>& params) {
  return Revalidated([&] { return RunWith(st, params, false); });
}

Result<Rows> PgConn::RunAndCommit(const Statement& st, const std::vector<Param>& params) {
  return Revalidated([&] { return RunWith(st, params, true); });
}

Result<Rows> PgConn::RunWith(const Statement& st, const std::vector<Param>& params, bool commit) {
  std::vector<Op> ops;
  if (pending_begin_ != nullptr) ops.push_back(Op{nullptr, pending_begin_});
  pending_begin_ = nullptr;
  if (prepared_.count(st.name) == 0) ops.push_back(Op{&st, nullptr, true});
  ops.push_back(Op{&st, nullptr, false, &params});
  commit = commit && in_transact_;  // outside Transact a statement commits by itself
  if (commit) ops.push_back(Op{nullptr, "COMMIT"});
  if (ops.size() > 1) {
    Result<Rows> rows = Pipeline(ops);
    if (commit && rows.ok()) committed_ = true;
    return rows;
  }
  // Prepared already, no BEGIN or COMMIT to carry: the plain call.
  sqlstate_.clear();
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  for (const Param& p : params) {
    values.push_back(p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
  }
  auto rows = Exchange(st.name, [&] {
    return PQsendQueryPrepared(conn_.get(), st.name, static_cast<int>(params.size()),
                               values.data(), lengths.data(), formats.data(), 1);
  });
  if (!rows.ok()) return rows.error();
  ExecStatusType status = PQresultStatus(rows->res());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return Fail(st.name, rows->res());
  return rows;
}

// The result rows returned are those of the last op that is not a COMMIT. An op after a
// failed one is not run by the server (PGRES_PIPELINE_ABORTED); the first error is returned.
// Every wait is bounded like Exchange's; a pipeline cut short leaves the connection unusable.
Result<Rows> PgConn::Pipeline(const std::vector<Op>& ops) {
  PGconn* c = conn_.get();
  sqlstate_.clear();
  if (timed_out_) return TimedOut("pipeline");
  const int64_t deadline = Deadline();
  ++round_trips_;
  if (PQenterPipelineMode(c) != 1) return Fail("pipeline", nullptr);
  bool sent = true;
  size_t want = 0;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (size_t i = 0; i < ops.size() && sent; ++i) {
    const Op& op = ops[i];
    if (op.st == nullptr) {
      sent = PQsendQueryParams(c, op.sql, 0, nullptr, nullptr, nullptr, nullptr, 1) == 1;
      continue;
    }
    if (op.prepare) {
      sent = PQsendPrepare(c, op.st->name, op.st->sql, static_cast<int>(op.st->types.size()),
                           op.st->types.data()) == 1;
      continue;
    }
    want = i;
    values.clear();
    lengths.clear();
    formats.assign(op.params->size(), 1);
    for (const Param& p : *op.params) {
      values.push_back(p.bytes.data());
      lengths.push_back(static_cast<int>(p.bytes.size()));
    }
    sent = PQsendQueryPrepared(c, op.st->name, static_cast<int>(op.params->size()), values.data(),
                               lengths.data(), formats.data(), 1) == 1;
  }
  if (sent) sent = PQpipelineSync(c) == 1;
  if (!sent) {
    poisoned_ = true;  // commands may be queued: never reuse this connection
    return Fail("pipeline", nullptr);
  }
  if (Status flushed = Flush("pipeline", deadline); !flushed.ok()) {
    poisoned_ = true;
    return flushed.error();
  }
  std::optional<Rows> wanted;
  std::optional<Error> error;
  for (size_t i = 0; i < ops.size(); ++i) {
    Result<PGresult*> next = NextResult("pipeline", deadline);
    if (!next.ok() || *next == nullptr) {
      poisoned_ = true;
      if (!error) error = next.ok() ? Fail("pipeline", nullptr) : next.error();
      break;
    }
    PGresult* raw = *next;
    Rows rows(raw);
    // Each command's results end in NULL.
    for (;;) {
      Result<PGresult*> end = NextResult("pipeline", deadline);
      if (!end.ok()) {
        poisoned_ = true;
        if (!error) error = end.error();
        break;
      }
      if (*end == nullptr) break;
      PQclear(*end);
    }
    if (poisoned_) break;
    const ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_ABORTED) continue;
    const char* what = ops[i].st ? ops[i].st->name : ops[i].sql;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      if (!error) error = Fail(what, raw);
      continue;
    }
    if (ops[i].prepare) prepared_.insert(ops[i].st->name);
    if (i == want) wanted.emplace(std::move(rows));
  }
  if (!poisoned_) {
    Result<PGresult*> sync = NextResult("pipeline", deadline);
    if (!sync.ok()) {
      if (!error) error = sync.error();
      poisoned_ = true;
    } else {
      if (*sync == nullptr || PQresultStatus(*sync) != PGRES_PIPELINE_SYNC) poisoned_ = true;
      if (*sync != nullptr) PQclear(*sync);
    }
  }
  if (poisoned_ || PQexitPipelineMode(c) != 1) poisoned_ = true;
  if (error) return *error;
  if (poisoned_ || !wanted) return MakeError(ErrorCode::kTemporary, "postgresql: pipeline lost");
  return std::move(*wanted);
}

Result<Rows> PgConn::Simple(const std::string& sql) {
  return Revalidated([&] { return SimpleOnce(sql); });
}

Result<Rows> PgConn::SimpleOnce(const std::string& sql) {
  sqlstate_.clear();
  std::string text = sql;
  if (pending_begin_ != nullptr) text = std::string(pending_begin_) + "; " + sql;
  pending_begin_ = nullptr;
  auto rows = Exchange("query", [&] { return PQsendQuery(conn_.get(), text.c_str()); });
  if (!rows.ok()) return rows.error();
  ExecStatusType status = PQresultStatus(rows->res());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return Fail("query", rows->res());
  return rows;
}

Status PgConn::Transact(TxnMode mode, const std::function<Status()>& fn) {
  const char* begin = mode == TxnMode::kReadOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                      : mode == TxnMode::kSerializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                       : "BEGIN ISOLATION LEVEL READ COMMITTED";
  Status last;
  // One bound for the whole call, retries included (pg_conn.h LIMITS).
  struct DeadlineScope {
    int64_t& slot;
    ~DeadlineScope() { slot = 0; }
  } scope{txn_deadline_ms_};
  txn_deadline_ms_ = 0;
  txn_deadline_ms_ = Deadline();
  for (int attempt = 0; attempt < kMaxTxnAttempts; ++attempt) {
    if (attempt > 0) RetryPause(attempt);
    // The BEGIN goes with fn's first statement (RunWith, Simple).
    pending_begin_ = begin;
    committed_ = false;
    in_transact_ = true;
    Status st = fn();
    in_transact_ = false;
    const bool begun = pending_begin_ == nullptr;
    pending_begin_ = nullptr;
    const bool committed = committed_;
    committed_ = false;
    std::string state = sqlstate_;
    if (st.ok()) {
      if (!begun || committed) return {};
      auto c = Simple("COMMIT");
      if (c.ok()) return {};
      st = c.error();
      state = sqlstate_;
    } else if (begun && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      (void)Simple("ROLLBACK");
    }
    if (!Retryable(state) || broken()) return st;
    last = st;
  }
  return MakeError(ErrorCode::kTemporary, "postgresql: transaction still conflicting after " +
                                              std::to_string(kMaxTxnAttempts) +
                                              " attempts: " + last.error().message);
}

}  // namespace threadmill::store::pg
