// pg_conn.cc - see pg_conn.h.
#include "store/postgresql/pg_conn.h"

#include <endian.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

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
  const int64_t deadline = SteadyMs() + std::max<int64_t>(1, timeouts.connect_ms);
  // libpq's connect_timeout as a second guard (whole seconds, libpq makes it at least 2).
  const std::string seconds = std::to_string((timeouts.connect_ms + 999) / 1000);
  // Later keywords win: the DSN (expanded from "dbname") may override the defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {seconds.c_str(), "threadmill", dsn.c_str(), nullptr};
  PGconn* raw = PQconnectStartParams(keys, values, 1);
  if (raw == nullptr) return MakeError(ErrorCode::kTemporary, "postgresql: out of memory");
  std::unique_ptr<PgConn> conn(new PgConn(raw, timeouts));
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (PQstatus(raw) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
         state != PGRES_POLLING_FAILED) {
    int fd = PQsocket(raw);
    if (fd < 0) break;
    if (!WaitSocket(fd, state == PGRES_POLLING_READING, state == PGRES_POLLING_WRITING, deadline)) {
      conn->timed_out_ = true;
      return MakeError(ErrorCode::kTemporary, "postgresql: connect: no answer within " +
                                                  std::to_string(timeouts.connect_ms) +
                                                  " ms ([store] connect_timeout_ms)");
    }
    state = PQconnectPoll(raw);
  }
  if (PQstatus(raw) != CONNECTION_OK) {
    return MakeError(ErrorCode::kTemporary, "postgresql: connect: " + Trimmed(PQerrorMessage(raw)));
  }
  // Non-blocking: a send never blocks on a full socket (Exchange waits with a deadline).
  if (PQsetnonblocking(raw, 1) != 0) {
    return MakeError(ErrorCode::kTemporary, "postgresql: connect: " + Trimmed(PQerrorMessage(raw)));
  }
  // Notices ("relation ... already exists, skipping") are not errors: do not print them.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  auto set = conn->Simple("SET statement_timeout = " +
                          std::to_string(std::max<int64_t>(0, timeouts.statement_ms)));
  if (!set.ok()) return set.error();
  return conn;
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

Result<Rows> PgConn::Exchange(const char* what, const std::function<int()>& send) {
  if (timed_out_) return TimedOut(what);
  const int64_t deadline = Deadline();
  PGconn* c = conn_.get();
  if (send() != 1) return Fail(what, nullptr);
  int fd = PQsocket(c);
  // Flush what libpq could not write at once.
  for (;;) {
    int flushed = PQflush(c);
    if (flushed == 0) break;
    if (flushed < 0) return Fail(what, nullptr);
    if (!WaitSocket(fd, true, true, deadline)) return TimedOut(what);
    if (PQconsumeInput(c) != 1) return Fail(what, nullptr);
  }
  // Collect every result; the first error (if any) or the last result is the answer.
  std::optional<Rows> answer;
  for (;;) {
    while (PQisBusy(c)) {
      if (!WaitSocket(fd, true, false, deadline)) return TimedOut(what);
      if (PQconsumeInput(c) != 1) return Fail(what, nullptr);
    }
    PGresult* res = PQgetResult(c);
    if (res == nullptr) break;
    ExecStatusType status = PQresultStatus(res);
    bool failed = status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK;
    if (!answer || (failed && PQresultStatus(answer->res()) != PGRES_FATAL_ERROR)) {
      answer.emplace(res);
    } else {
      PQclear(res);
    }
  }
  if (!answer) return Fail(what, nullptr);
  return std::move(*answer);
}

bool PgConn::healthy() const {
  return PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
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
  sqlstate_.clear();
  PGconn* c = conn_.get();
  if (prepared_.count(st.name) == 0) {
    auto prep = Exchange(st.name, [&] {
      return PQsendPrepare(c, st.name, st.sql, static_cast<int>(st.types.size()), st.types.data());
    });
    if (!prep.ok()) return prep.error();
    // An error inside a transaction aborts it; the statement is prepared anyway or not.
    if (PQresultStatus(prep->res()) != PGRES_COMMAND_OK) return Fail(st.name, prep->res());
    prepared_.insert(st.name);
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  for (const Param& p : params) {
    values.push_back(p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
  }
  auto rows = Exchange(st.name, [&] {
    return PQsendQueryPrepared(c, st.name, static_cast<int>(params.size()), values.data(),
                               lengths.data(), formats.data(), 1);
  });
  if (!rows.ok()) return rows.error();
  ExecStatusType status = PQresultStatus(rows->res());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return Fail(st.name, rows->res());
  return rows;
}

Result<Rows> PgConn::Simple(const std::string& sql) {
  sqlstate_.clear();
  auto rows = Exchange("query", [&] { return PQsendQuery(conn_.get(), sql.c_str()); });
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
    if (auto b = Simple(begin); !b.ok()) return b.error();
    Status st = fn();
    std::string state = sqlstate_;
    if (st.ok()) {
      auto c = Simple("COMMIT");
      if (c.ok()) return {};
      st = c.error();
      state = sqlstate_;
    } else {
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
