// pg_job_backend.cc - see pg_job_backend.h.
#include "store/postgresql/pg_job_backend.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace threadmill::store::pg {
namespace {

#define TM_JOB_COLS \
  "id, handler, state, attempts, next_try, updated, last_error, message_id, recipient, record"

// The job and, when it is new, its message (shared by the message's jobs: ON CONFLICT on
// the ref). No row back: the job existed (same id or dedupe key).
const Statement kInsertJob{
    "tm_job_insert",
    "WITH j AS (INSERT INTO tm_job (id, handler, state, attempts, next_try, updated, last_error, "
    "message_id, recipient, msg_ref, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT DO NOTHING RETURNING id), "
    "m AS (INSERT INTO tm_job_message (ref, raw) SELECT $10, $12 WHERE EXISTS (SELECT 1 FROM j) "
    "ON CONFLICT (ref) DO NOTHING RETURNING 1) "
    "SELECT id FROM j",
    {kText, kText, kText, kInt8, kInt8, kInt8, kText, kBytea, kBytea, kText, kBytea, kBytea}};
const Statement kFindExisting{
    "tm_job_existing",
    "(SELECT id FROM tm_job WHERE id = $1) UNION ALL "
    "(SELECT id FROM tm_job WHERE message_id <> ''::bytea AND sha256(message_id) = sha256($2) "
    "AND sha256(recipient) = sha256($3) AND handler = $4 AND message_id = $2 AND recipient = $3) "
    "LIMIT 1",
    {kText, kBytea, kBytea, kText}};
const Statement kGet{"tm_job_get", "SELECT " TM_JOB_COLS " FROM tm_job WHERE id = $1", {kText}};
const Statement kLock{
    "tm_job_lock", "SELECT " TM_JOB_COLS " FROM tm_job WHERE id = $1 FOR UPDATE", {kText}};
const Statement kLockLeased{"tm_job_lock_leased",
                            "SELECT " TM_JOB_COLS
                            " FROM tm_job WHERE id = $1 AND state = 'R' AND lease_host = $2 "
                            "FOR UPDATE",
                            {kText, kText}};
const Statement kPut{
    "tm_job_put",
    "UPDATE tm_job SET state = $2, attempts = $3, next_try = $4, updated = $5, last_error = $6, "
    "record = $7, lease_host = CASE WHEN $2 = 'R' THEN lease_host END, "
    "lease_until = CASE WHEN $2 = 'R' THEN lease_until END WHERE id = $1",
    {kText, kText, kInt8, kInt8, kInt8, kText, kBytea}};
const Statement kDropMessage{
    "tm_job_drop_message",
    "DELETE FROM tm_job_message WHERE ref = (SELECT msg_ref FROM tm_job WHERE id = $1) "
    "AND NOT EXISTS (SELECT 1 FROM tm_job WHERE msg_ref = (SELECT msg_ref FROM tm_job WHERE id = "
    "$1) AND state <> 'D')",
    {kText}};
const Statement kReadMessage{"tm_job_read_message",
                             "SELECT m.raw FROM tm_job j JOIN tm_job_message m ON m.ref = "
                             "j.msg_ref WHERE j.id = $1",
                             {kText}};
const Statement kListAll{
    "tm_job_list", "SELECT " TM_JOB_COLS " FROM tm_job ORDER BY id LIMIT $1", {kInt8}};
const Statement kListState{"tm_job_list_state",
                           "SELECT " TM_JOB_COLS
                           " FROM tm_job WHERE state = $1 ORDER BY id LIMIT $2",
                           {kText, kInt8}};
const Statement kClaim{
    "tm_job_claim",
    "UPDATE tm_job j SET state = 'R', attempts = j.attempts + 1, updated = $2, lease_host = $4, "
    "lease_until = $5, last_error = CASE WHEN s.old_state = 'R' THEN 'lease of ' || "
    "coalesce(s.old_host, '?') || ' expired' ELSE j.last_error END "
    "FROM (SELECT id, state AS old_state, lease_host AS old_host FROM tm_job WHERE handler = $1 "
    "AND ((state = 'Q' AND next_try <= $2) OR (state = 'R' AND lease_until < $2)) "
    "ORDER BY next_try, id LIMIT $3 FOR UPDATE SKIP LOCKED) s "
    "WHERE j.id = s.id RETURNING j.id, j.handler, j.state, j.attempts, j.next_try, j.updated, "
    "j.last_error, j.message_id, j.recipient, j.record, "
    "CASE WHEN s.old_state = 'R' THEN coalesce(s.old_host, '?') ELSE '' END",
    {kText, kInt8, kInt8, kText, kInt8}};
const Statement kNextDue{
    "tm_job_next_due",
    "SELECT (SELECT next_try FROM tm_job WHERE state = 'Q' ORDER BY next_try LIMIT 1), "
    "(SELECT lease_until FROM tm_job WHERE state = 'R' ORDER BY lease_until LIMIT 1)",
    {}};
const Statement kCount{"tm_job_count", "SELECT count(*) FROM tm_job WHERE state = $1", {kText}};
const Statement kRecover{
    "tm_job_recover",
    "UPDATE tm_job SET state = 'Q', next_try = $1, updated = $1, last_error = 'interrupted', "
    "lease_host = NULL, lease_until = NULL WHERE state = 'R' AND lease_host = $2",
    {kInt8, kText}};
const Statement kSweep{
    "tm_job_sweep",
    "WITH d AS (DELETE FROM tm_job WHERE id IN (SELECT id FROM tm_job WHERE state = 'D' AND "
    "updated < $1 ORDER BY updated LIMIT $2) RETURNING id, msg_ref), "
    "m AS (DELETE FROM tm_job_message m WHERE m.ref IN (SELECT msg_ref FROM d) AND NOT EXISTS "
    "(SELECT 1 FROM tm_job j WHERE j.msg_ref = m.ref AND j.id NOT IN (SELECT id FROM d)) "
    "RETURNING 1) "
    "SELECT count(*) FROM d",
    {kInt8, kInt8}};

#undef TM_JOB_COLS

JobRow RowAt(const Rows& rows, int i) {
  JobRow row;
  row.id = std::string(rows.Bytes(i, 0));
  row.handler = std::string(rows.Bytes(i, 1));
  std::string_view state = rows.Bytes(i, 2);
  row.state = state.empty() ? 'Q' : state[0];
  row.attempts = rows.Int8(i, 3);
  row.next_try = rows.Int8(i, 4);
  row.updated = rows.Int8(i, 5);
  row.last_error = std::string(rows.Bytes(i, 6));
  row.message_id = std::string(rows.Bytes(i, 7));
  row.recipient = std::string(rows.Bytes(i, 8));
  row.record = std::string(rows.Bytes(i, 9));
  return row;
}

std::string StateText(char state) { return std::string(1, state); }

// One job (and its message when new); the existing job's id when it was there already.
Result<InsertedJob> InsertOne(PgConn& conn, const JobRow& row, const std::string& msg_ref,
                              std::string_view message) {
  Result<Rows> ins = conn.Run(
      kInsertJob,
      {Param::Bytes(row.id), Param::Bytes(row.handler), Param::Bytes(StateText(row.state)),
       Param::Int8(row.attempts), Param::Int8(row.next_try), Param::Int8(row.updated),
       Param::Bytes(row.last_error), Param::Bytes(row.message_id), Param::Bytes(row.recipient),
       Param::Bytes(msg_ref), Param::Bytes(row.record), Param::Bytes(message)});
  if (!ins.ok()) return ins.error();
  if (ins->size() > 0) return InsertedJob{row.id, false};
  Result<Rows> hit =
      conn.Run(kFindExisting, {Param::Bytes(row.id), Param::Bytes(row.message_id),
                               Param::Bytes(row.recipient), Param::Bytes(row.handler)});
  if (!hit.ok()) return hit.error();
  if (hit->size() == 0) {  // swept between the two statements
    return MakeError(ErrorCode::kTemporary,
                     "postgresql: job " + row.id + " conflicted and vanished");
  }
  return InsertedJob{std::string(hit->Bytes(0, 0)), true};
}

}  // namespace

PgJobBackend::PgJobBackend(std::shared_ptr<PgPool> pool, std::string host_id)
    : pool_(std::move(pool)), host_id_(std::move(host_id)) {}

Result<std::vector<InsertedJob>> PgJobBackend::Insert(const std::vector<JobRow>& rows,
                                                      std::string_view message) {
  std::vector<InsertedJob> out;
  if (rows.empty()) return out;
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  const std::string msg_ref = rows.front().id;
  if (rows.size() == 1) {  // the common case: one round trip, autocommit
    Result<InsertedJob> one = InsertOne(**conn, rows.front(), msg_ref, message);
    if (!one.ok()) return one.error();
    out.push_back(std::move(*one));
    return out;
  }
  Status st = (*conn)->Transact(TxnMode::kReadCommitted, [&]() -> Status {
    out.clear();
    for (const JobRow& row : rows) {
      Result<InsertedJob> one = InsertOne(**conn, row, msg_ref, message);
      if (!one.ok()) return one.error();
      out.push_back(std::move(*one));
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::optional<JobRow>> PgJobBackend::Get(std::string_view id) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kGet, {Param::Bytes(id)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<JobRow>();
  return std::optional<JobRow>(RowAt(*rows, 0));
}

Result<std::string> PgJobBackend::ReadMessage(std::string_view id) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kReadMessage, {Param::Bytes(id)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) {
    return MakeError(ErrorCode::kNotFound, "job " + std::string(id) + ": no message");
  }
  return std::string(rows->Bytes(0, 0));
}

Result<std::vector<JobRow>> PgJobBackend::List(size_t limit, std::optional<char> state) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  const int64_t n = static_cast<int64_t>(std::min<size_t>(limit, static_cast<size_t>(INT64_MAX)));
  Result<Rows> rows =
      state ? (*conn)->Run(kListState, {Param::Bytes(StateText(*state)), Param::Int8(n)})
            : (*conn)->Run(kListAll, {Param::Int8(n)});
  if (!rows.ok()) return rows.error();
  std::vector<JobRow> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(RowAt(*rows, i));
  return out;
}

Result<std::vector<JobRow>> PgJobBackend::ClaimDue(int64_t now,
                                                   const std::map<std::string, size_t>& capacity,
                                                   int64_t lease_seconds) {
  std::vector<JobRow> out;
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  for (const auto& [handler, n] : capacity) {
    if (n == 0) continue;
    // Autocommit: each handler's claim commits at once, so a later failure never leaves
    // claimed jobs unreported (the caller gets what was claimed so far).
    Result<Rows> rows = (*conn)->Run(
        kClaim, {Param::Bytes(handler), Param::Int8(now), Param::Int8(static_cast<int64_t>(n)),
                 Param::Bytes(host_id_), Param::Int8(now + lease_seconds)});
    if (!rows.ok()) {
      if (!out.empty()) return out;
      return rows.error();
    }
    for (int i = 0; i < rows->size(); ++i) {
      JobRow row = RowAt(*rows, i);
      row.taken_from = std::string(rows->Bytes(i, 10));
      out.push_back(std::move(row));
    }
  }
  return out;
}

Status PgJobBackend::Update(std::string_view id, bool only_leased,
                            const std::function<Status(JobRow&)>& fn) {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  return (*conn)->Transact(TxnMode::kReadCommitted, [&]() -> Status {
    Result<Rows> rows = only_leased
                            ? (*conn)->Run(kLockLeased, {Param::Bytes(id), Param::Bytes(host_id_)})
                            : (*conn)->Run(kLock, {Param::Bytes(id)});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) {
      return MakeError(
          ErrorCode::kNotFound,
          "job " + std::string(id) +
              (only_leased ? " is not running under this host's lease" : " not found"));
    }
    JobRow row = RowAt(*rows, 0);
    if (Status st = fn(row); !st.ok()) return st;
    Result<Rows> put = (*conn)->Run(
        kPut, {Param::Bytes(id), Param::Bytes(StateText(row.state)), Param::Int8(row.attempts),
               Param::Int8(row.next_try), Param::Int8(row.updated), Param::Bytes(row.last_error),
               Param::Bytes(row.record)});
    if (!put.ok()) return put.error();
    if (row.state == 'D') {
      if (auto drop = (*conn)->Run(kDropMessage, {Param::Bytes(id)}); !drop.ok()) {
        return drop.error();
      }
    }
    return {};
  });
}

Result<std::optional<int64_t>> PgJobBackend::NextDue() const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kNextDue, {});
  if (!rows.ok()) return rows.error();
  std::optional<int64_t> next;
  for (int col = 0; col < 2; ++col) {
    if (rows->size() == 0 || rows->IsNull(0, col)) continue;
    int64_t t = rows->Int8(0, col);
    if (!next || t < *next) next = t;
  }
  return next;
}

Result<size_t> PgJobBackend::Count(char state) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kCount, {Param::Bytes(StateText(state))});
  if (!rows.ok()) return rows.error();
  return static_cast<size_t>(rows->Int8(0, 0));
}

Result<size_t> PgJobBackend::RecoverRunning(int64_t now) {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kRecover, {Param::Int8(now), Param::Bytes(host_id_)});
  if (!rows.ok()) return rows.error();
  return static_cast<size_t>(rows->Affected());
}

Result<size_t> PgJobBackend::SweepDone(int64_t older_than, size_t batch) {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows =
      (*conn)->Run(kSweep, {Param::Int8(older_than), Param::Int8(static_cast<int64_t>(batch))});
  if (!rows.ok()) return rows.error();
  return static_cast<size_t>(rows->Int8(0, 0));
}

}  // namespace threadmill::store::pg
