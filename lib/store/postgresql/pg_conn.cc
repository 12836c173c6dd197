// pg_conn.cc - see pg_conn.h.
#include "store/postgresql/pg_conn.h"

#include <endian.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
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

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& dsn,
                                                int64_t statement_timeout_ms) {
  const std::string timeout = std::to_string(kConnectTimeoutSeconds);
  // Later keywords win: the DSN (expanded from "dbname") may override the defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "threadmill", dsn.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (raw == nullptr) return MakeError(ErrorCode::kTemporary, "postgresql: out of memory");
  std::unique_ptr<PgConn> conn(new PgConn(raw, statement_timeout_ms));
  if (PQstatus(raw) != CONNECTION_OK) {
    return MakeError(ErrorCode::kTemporary, "postgresql: connect: " + Trimmed(PQerrorMessage(raw)));
  }
  // Notices ("relation ... already exists, skipping") are not errors: do not print them.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  if (Status st = conn->ApplySessionSettings(); !st.ok()) return st.error();
  return conn;
}

Status PgConn::ApplySessionSettings() {
  auto set = SimpleOnce("SET statement_timeout = " +
                        std::to_string(std::max<int64_t>(0, statement_timeout_ms_)));
  if (!set.ok()) return set.error();
  return {};
}

Result<Rows> PgConn::Revalidated(const std::function<Result<Rows>()>& exec) {
  const bool first_after_idle = std::exchange(reused_, false);
  Result<Rows> rows = exec();
  if (rows.ok() || !first_after_idle || !broken()) return rows;
  // PQreset connects again with the same parameters: with several hosts and
  // target_session_attrs=read-write that is the promoted standby.
  PQreset(conn_.get());
  if (broken()) return rows;
  prepared_.clear();  // statements are prepared per server session
  if (!ApplySessionSettings().ok()) return rows;
  return exec();
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
  return Revalidated([&] { return RunOnce(st, params); });
}

Result<Rows> PgConn::Simple(const std::string& sql) {
  return Revalidated([&] { return SimpleOnce(sql); });
}

Result<Rows> PgConn::RunOnce(const Statement& st, const std::vector<Param>& params) {
  sqlstate_.clear();
  if (prepared_.count(st.name) == 0) {
    Rows prep(PQprepare(conn_.get(), st.name, st.sql, static_cast<int>(st.types.size()),
                        st.types.data()));
    // An error inside a transaction aborts it; the statement is prepared anyway or not.
    if (PQresultStatus(prep.res()) != PGRES_COMMAND_OK) return Fail(st.name, prep.res());
    prepared_.insert(st.name);
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  for (const Param& p : params) {
    values.push_back(p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
  }
  Rows rows(PQexecPrepared(conn_.get(), st.name, static_cast<int>(params.size()), values.data(),
                           lengths.data(), formats.data(), 1));
  ExecStatusType status = PQresultStatus(rows.res());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return Fail(st.name, rows.res());
  return rows;
}

Result<Rows> PgConn::SimpleOnce(const std::string& sql) {
  sqlstate_.clear();
  Rows rows(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType status = PQresultStatus(rows.res());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return Fail("query", rows.res());
  return rows;
}

Status PgConn::Transact(TxnMode mode, const std::function<Status()>& fn) {
  const char* begin = mode == TxnMode::kReadOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                      : mode == TxnMode::kSerializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                       : "BEGIN ISOLATION LEVEL READ COMMITTED";
  Status last;
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
    if (!Retryable(state) || PQstatus(conn_.get()) != CONNECTION_OK) return st;
    last = st;
  }
  return MakeError(ErrorCode::kTemporary, "postgresql: transaction still conflicting after " +
                                              std::to_string(kMaxTxnAttempts) +
                                              " attempts: " + last.error().message);
}

}  // namespace threadmill::store::pg
