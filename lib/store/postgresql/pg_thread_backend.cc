// pg_thread_backend.cc - see pg_thread_backend.h.
#include "store/postgresql/pg_thread_backend.h"

#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "store/thread_update.h"

namespace threadmill::store::pg {
namespace {

const Statement kFindMessage{
    "tm_find_message",
    "SELECT record FROM tm_message WHERE sha256(msgid) = sha256($1) AND msgid = $1",
    {kBytea}};
// FindMessage: the message and its thread's record as stored (NULL when the thread is gone),
// which RecordMessage's compare-and-swap path may use next (a reply to this message).
const Statement kFindMessageWithThread{
    "tm_find_message_thread",
    "SELECT m.record, t.record FROM tm_message m LEFT JOIN tm_thread t "
    "ON t.thread_id = m.thread_id WHERE sha256(m.msgid) = sha256($1) AND m.msgid = $1",
    {kBytea}};
const Statement kFindThread{
    "tm_find_thread", "SELECT record FROM tm_thread WHERE thread_id = $1", {kText}};
const Statement kFindThreadForUpdate{
    "tm_find_thread_fu", "SELECT record FROM tm_thread WHERE thread_id = $1 FOR UPDATE", {kText}};
// ListThreads: one page in thread id order (the primary key's index).
const Statement kListThreads{
    "tm_list_threads",
    "SELECT thread_id, record FROM tm_thread WHERE thread_id > $1 ORDER BY thread_id LIMIT $2",
    {kText, kInt8}};
const Statement kFindIndex{
    "tm_find_index",
    "SELECT thread_id FROM tm_thread_index WHERE sha256(root) = sha256($1) AND root = $1",
    {kBytea}};
// RecordMessage's fast path, for a message that starts a thread (one round trip, one
// statement: atomic without BEGIN/COMMIT). Inserts the message, its Thread-Index root ($5,
// unless empty or mapped already) and the new thread's record ($7 with the root, $6 without)
// - but only when neither the Message-ID nor the thread is there yet. Returns (1 when stored,
// the known message's record or NULL). A thread created by another host after this
// statement's snapshot fails it (unique violation: the thread insert has no ON CONFLICT), so
// nothing is half-stored; RecordMessage then takes the locking path.
const Statement kRecordNew{
    "tm_record_new",
    "WITH known AS (SELECT record FROM tm_message "
    "WHERE sha256(msgid) = sha256($1) AND msgid = $1), "
    "existing AS (SELECT 1 FROM tm_thread WHERE thread_id = $2), "
    "ins AS (INSERT INTO tm_message (msgid, thread_id, time, record) SELECT $1, $2, $3, $4 "
    "WHERE NOT EXISTS (SELECT 1 FROM known) AND NOT EXISTS (SELECT 1 FROM existing) "
    "ON CONFLICT ((sha256(msgid))) DO NOTHING RETURNING true), "
    "idx AS (INSERT INTO tm_thread_index (root, thread_id) SELECT $5, $2 "
    "WHERE EXISTS (SELECT 1 FROM ins) AND length($5) > 0 "
    "ON CONFLICT ((sha256(root))) DO NOTHING RETURNING true), "
    "thr AS (INSERT INTO tm_thread (thread_id, record) "
    "SELECT $2, CASE WHEN EXISTS (SELECT 1 FROM idx) THEN $7 ELSE $6 END "
    "WHERE EXISTS (SELECT 1 FROM ins) RETURNING true) "
    "SELECT (SELECT count(*) FROM thr), (SELECT record FROM known), (SELECT count(*) FROM idx)",
    {kBytea, kText, kInt8, kBytea, kBytea, kBytea, kBytea}};
// RecordMessage into an existing thread whose record this process read last as $5 (a
// compare-and-swap: one statement, one round trip): stores the message and the thread record
// $6 only when the thread still holds exactly $5 and the Message-ID is unknown. Returns 1
// when stored, 0 when not (the thread changed, or the message is known): then the locking
// path runs. A Message-ID another host stores meanwhile fails the statement (the insert has
// no ON CONFLICT), so the thread is never counted twice.
const Statement kRecordCas{
    "tm_record_cas",
    "WITH known AS (SELECT 1 FROM tm_message "
    "WHERE sha256(msgid) = sha256($1) AND msgid = $1), "
    "upd AS (UPDATE tm_thread SET record = $6 "
    "WHERE thread_id = $2 AND record = $5 AND NOT EXISTS (SELECT 1 FROM known) RETURNING 1), "
    "ins AS (INSERT INTO tm_message (msgid, thread_id, time, record) "
    "SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM upd) RETURNING true) "
    "SELECT count(*) FROM ins",
    {kBytea, kText, kInt8, kBytea, kBytea, kBytea}};
// RecordMessage's first statement: inserts the message unless its Message-ID is known and,
// when it was new, creates-and-locks its thread row (an upsert: READ COMMITTED waits for
// another host's writer of that thread and then returns its committed record, "" when the
// thread is new). Returns (1, thread record) for a new message, (2, message record) for one
// known before this statement's snapshot, no row for one another host committed meanwhile
// (ON CONFLICT waited for it; a second statement reads it).
const Statement kRecordStart{
    "tm_record_start",
    "WITH ins AS (INSERT INTO tm_message (msgid, thread_id, time, record) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT ((sha256(msgid))) DO NOTHING RETURNING true), "
    "thread AS (INSERT INTO tm_thread (thread_id, record) "
    "SELECT $2, ''::bytea WHERE EXISTS (SELECT 1 FROM ins) "
    "ON CONFLICT (thread_id) DO UPDATE SET thread_id = EXCLUDED.thread_id RETURNING record) "
    "SELECT 1::int8, record FROM thread "
    "UNION ALL SELECT 2::int8, record FROM tm_message "
    "WHERE NOT EXISTS (SELECT 1 FROM ins) AND sha256(msgid) = sha256($1) AND msgid = $1",
    {kBytea, kText, kInt8, kBytea}};
// RecordMessage's second statement (sent with COMMIT): maps the Thread-Index root $2 unless
// it is empty or mapped already (the first mapping wins) and stores the thread record: $4
// (with the root) when the mapping was made, $3 otherwise.
const Statement kRecordFinish{
    "tm_record_finish",
    "WITH idx AS (INSERT INTO tm_thread_index (root, thread_id) "
    "SELECT $2, $1 WHERE length($2) > 0 "
    "ON CONFLICT ((sha256(root))) DO NOTHING RETURNING true) "
    "UPDATE tm_thread SET record = CASE WHEN EXISTS (SELECT 1 FROM idx) THEN $4 ELSE $3 END "
    "WHERE thread_id = $1 RETURNING record",
    {kText, kBytea, kBytea, kBytea}};
const Statement kUpdateMessage{
    "tm_update_message",
    "UPDATE tm_message SET record = $2 WHERE sha256(msgid) = sha256($1) AND msgid = $1",
    {kBytea, kBytea}};
const Statement kPutThread{"tm_put_thread",
                           "INSERT INTO tm_thread (thread_id, record) VALUES ($1, $2) "
                           "ON CONFLICT (thread_id) DO UPDATE SET record = EXCLUDED.record",
                           {kText, kBytea}};
const Statement kThreadMessages{"tm_thread_messages",
                                "SELECT msgid, record FROM tm_message WHERE thread_id = $1 "
                                "ORDER BY time, msgid LIMIT $2",
                                {kText, kInt8}};
const Statement kSweepMessages{
    "tm_sweep_messages",
    "DELETE FROM tm_message WHERE ctid IN (SELECT ctid FROM tm_message WHERE time < $1 "
    "ORDER BY time LIMIT $2) RETURNING msgid, thread_id",
    {kInt8, kInt8}};
const Statement kCountMessages{
    "tm_count_messages", "SELECT count(*) FROM tm_message WHERE thread_id = $1", {kText}};
const Statement kDeleteThread{
    "tm_delete_thread", "DELETE FROM tm_thread WHERE thread_id = $1", {kText}};
const Statement kDeleteIndexOf{
    "tm_delete_index_of", "DELETE FROM tm_thread_index WHERE thread_id = $1", {kText}};

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

Result<std::optional<MessageRecord>> DecodeMessageRow(std::string_view msgid,
                                                      std::string_view json) {
  Result<MessageRecord> rec = DecodeMessage(json);
  if (!rec.ok()) return rec.error();
  rec->msgid = std::string(msgid);
  return std::optional<MessageRecord>(std::move(*rec));
}

Result<std::optional<ThreadRecord>> LoadThread(PgConn& conn, const Statement& st,
                                               std::string_view thread_id) {
  Result<Rows> rows = conn.Run(st, {Param::Bytes(thread_id)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<ThreadRecord>();
  Result<ThreadRecord> rec = DecodeThread(rows->Bytes(0, 0));
  if (!rec.ok()) return rec.error();
  rec->thread_id = std::string(thread_id);
  return std::optional<ThreadRecord>(std::move(*rec));
}

// A Message-ID known already: idempotent, except for the outbound echo. `known` is its record.
Status RecordKnown(PgConn& conn, const MessageRecord& rec, std::string_view known,
                   MessageRecord& out) {
  Result<std::optional<MessageRecord>> existing = DecodeMessageRow(rec.msgid, known);
  if (!existing.ok()) return existing.error();
  out = std::move(**existing);
  // The outbound echo of a reinjected reply (reply/replier.h): note the MTA's queue id.
  if (out.direction == Direction::kOutbound && out.queue_id.empty() &&
      rec.direction == Direction::kOutbound && !rec.queue_id.empty()) {
    out.queue_id = rec.queue_id;
    if (out.match.empty()) out.match = rec.match;  // how the echo matched (its parent)
    Result<Rows> upd = conn.RunAndCommit(
        kUpdateMessage, {Param::Bytes(rec.msgid), Param::Bytes(EncodeMessage(out))});
    if (!upd.ok()) return upd.error();
  }
  return {};
}

// The fast path (kRecordNew). Sets `done` when the message is stored or was known.
// `stored_thread` receives the thread record stored, when one was.
Status RecordNew(PgConn& conn, const MessageRecord& rec, std::string_view root, MessageRecord& out,
                 bool& done, std::string& stored_thread) {
  done = false;
  ThreadRecord thread;
  thread.thread_id = rec.thread_id;
  ApplyMessage(thread, rec);
  const std::string without = EncodeThread(thread);
  std::string with = without;
  if (!root.empty()) {  // a new thread has room
    thread.thread_index_roots.emplace_back(root);
    with = EncodeThread(thread);
  }
  Result<Rows> rows =
      conn.Run(kRecordNew, {Param::Bytes(rec.msgid), Param::Bytes(rec.thread_id),
                            Param::Int8(rec.time), Param::Bytes(EncodeMessage(rec)),
                            Param::Bytes(root), Param::Bytes(without), Param::Bytes(with)});
  if (!rows.ok()) {
    if (conn.last_sqlstate() == "23505") return {};  // the thread appeared meanwhile
    return rows.error();
  }
  if (rows->Int8(0, 0) == 1) {
    out = rec;
    done = true;
    stored_thread = rows->Int8(0, 2) == 1 ? with : without;
    return {};
  }
  if (rows->IsNull(0, 1)) return {};  // the thread exists (or the Message-ID came meanwhile)
  done = true;
  return RecordKnown(conn, rec, rows->Bytes(0, 1), out);
}

// The compare-and-swap path (kRecordCas) against `old_thread`, the thread's record as last
// read. Sets `done` when the message is stored; otherwise nothing was written.
Status RecordCas(PgConn& conn, const MessageRecord& rec, std::string_view old_thread, bool& done,
                 std::string& stored_thread) {
  done = false;
  Result<ThreadRecord> thread = DecodeThread(old_thread);
  if (!thread.ok()) return {};  // the locking path reports it
  thread->thread_id = rec.thread_id;
  ApplyMessage(*thread, rec);
  std::string updated = EncodeThread(*thread);
  Result<Rows> rows = conn.Run(kRecordCas, {Param::Bytes(rec.msgid), Param::Bytes(rec.thread_id),
                                            Param::Int8(rec.time), Param::Bytes(EncodeMessage(rec)),
                                            Param::Bytes(old_thread), Param::Bytes(updated)});
  if (!rows.ok()) {
    if (conn.last_sqlstate() == "23505") return {};  // the Message-ID came meanwhile
    return rows.error();
  }
  if (rows->Int8(0, 0) != 1) return {};
  done = true;
  stored_thread = std::move(updated);
  return {};
}

// The body of RecordMessage's transaction (thread_backend.h / thread_store.h semantics).
// A new message: kRecordStart (with BEGIN), kRecordFinish (with COMMIT) - 2 round trips.
// A known one: kRecordStart, then COMMIT (or the echo's update with COMMIT) - 2 as well.
Status RecordIn(PgConn& conn, const MessageRecord& rec, std::string_view root, MessageRecord& out,
                std::string& stored_thread) {
  stored_thread.clear();
  Result<Rows> start =
      conn.Run(kRecordStart, {Param::Bytes(rec.msgid), Param::Bytes(rec.thread_id),
                              Param::Int8(rec.time), Param::Bytes(EncodeMessage(rec))});
  if (!start.ok()) return start.error();
  if (start->size() == 0) {  // another host committed it while we waited: a new snapshot
    Result<Rows> hit = conn.Run(kFindMessage, {Param::Bytes(rec.msgid)});
    if (!hit.ok()) return hit.error();
    if (hit->size() == 0) {
      return MakeError(ErrorCode::kStore, "postgresql: Message-ID hash collision");
    }
    return RecordKnown(conn, rec, hit->Bytes(0, 0), out);
  }
  if (start->Int8(0, 0) == 2) return RecordKnown(conn, rec, start->Bytes(0, 1), out);
  ThreadRecord thread;
  if (!start->Bytes(0, 1).empty()) {
    Result<ThreadRecord> decoded = DecodeThread(start->Bytes(0, 1));
    if (!decoded.ok()) return decoded.error();
    thread = std::move(*decoded);
  }
  thread.thread_id = rec.thread_id;
  ApplyMessage(thread, rec);
  // The root is mapped unless mapped already (the first mapping wins) or the thread is full;
  // the statement picks the record that matches what it did.
  const bool room = !root.empty() && thread.thread_index_roots.size() < kMaxThreadIndexRoots;
  std::string without = EncodeThread(thread);
  std::string with;
  if (room) {
    thread.thread_index_roots.emplace_back(root);
    with = EncodeThread(thread);
  }
  Result<Rows> finish = conn.RunAndCommit(
      kRecordFinish, {Param::Bytes(rec.thread_id), Param::Bytes(room ? root : std::string_view()),
                      Param::Bytes(without), Param::Bytes(room ? with : without)});
  if (!finish.ok()) return finish.error();
  if (finish->size() > 0) stored_thread = std::string(finish->Bytes(0, 0));
  out = rec;
  return {};
}

// One Sweep batch; sets `more` when the batch was full.
Status SweepIn(PgConn& conn, int64_t cutoff, SweepStats& stats, bool& more) {
  stats = SweepStats{};
  Result<Rows> doomed = conn.Run(
      kSweepMessages, {Param::Int8(cutoff), Param::Int8(static_cast<int64_t>(kSweepBatch))});
  if (!doomed.ok()) return doomed.error();
  more = static_cast<size_t>(doomed->size()) >= kSweepBatch;
  std::map<std::string, std::set<std::string>> touched;  // thread id -> swept msgids
  for (int i = 0; i < doomed->size(); ++i) {
    touched[std::string(doomed->Bytes(i, 1))].insert(std::string(doomed->Bytes(i, 0)));
  }
  stats.messages = static_cast<uint64_t>(doomed->size());
  for (const auto& [thread_id, gone] : touched) {
    // Lock the thread first, then count: a message another host is recording into it has
    // locked the row and is committed (and counted) by the time the lock is granted.
    Result<std::optional<ThreadRecord>> loaded = LoadThread(conn, kFindThreadForUpdate, thread_id);
    if (!loaded.ok()) return loaded.error();
    if (!loaded->has_value()) continue;
    Result<Rows> count = conn.Run(kCountMessages, {Param::Bytes(thread_id)});
    if (!count.ok()) return count.error();
    const int64_t left = count->Int8(0, 0);
    if (left == 0) {
      if (auto del = conn.Run(kDeleteIndexOf, {Param::Bytes(thread_id)}); !del.ok()) {
        return del.error();
      }
      if (auto del = conn.Run(kDeleteThread, {Param::Bytes(thread_id)}); !del.ok()) {
        return del.error();
      }
      ++stats.threads;
      continue;
    }
    ForgetMessages(**loaded, static_cast<size_t>(left), gone);
    Result<Rows> put =
        conn.Run(kPutThread, {Param::Bytes(thread_id), Param::Bytes(EncodeThread(**loaded))});
    if (!put.ok()) return put.error();
  }
  return {};
}

}  // namespace

PgThreadBackend::PgThreadBackend(std::shared_ptr<PgPool> pool, int64_t retention_seconds)
    : pool_(std::move(pool)), recent_(retention_seconds) {}

Result<std::optional<MessageRecord>> PgThreadBackend::FindMessage(std::string_view msgid) const {
  // Stored by this process minutes ago: the row as it is (pg_recent_messages.h). Its thread's
  // record, if this process still holds one, is only a hint for the compare-and-swap.
  if (std::optional<MessageRecord> mine = recent_.Recall(msgid, UnixNow())) return mine;
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kFindMessageWithThread, {Param::Bytes(msgid)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<MessageRecord>();
  Result<std::optional<MessageRecord>> found = DecodeMessageRow(msgid, rows->Bytes(0, 0));
  if (found.ok() && !rows->IsNull(0, 1)) Remember((**found).thread_id, rows->Bytes(0, 1));
  return found;
}

Result<std::optional<ThreadRecord>> PgThreadBackend::FindThread(std::string_view thread_id) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  return LoadThread(**conn, kFindThread, thread_id);
}

Result<std::optional<std::string>> PgThreadBackend::FindThreadByIndex(
    std::string_view thread_index_root) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(kFindIndex, {Param::Bytes(thread_index_root)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(rows->Bytes(0, 0)));
}

Result<MessageRecord> PgThreadBackend::RecordMessage(const MessageRecord& rec,
                                                     std::string_view thread_index_root,
                                                     std::optional<ThreadRecord>* thread_after) {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  MessageRecord out;
  std::string stored_thread;
  bool done = false;
  Status st;
  if (rec.match.empty() && rec.parent.empty()) {
    // A message that matched nothing gets a thread of its own (filter/processor.cc, a new
    // id): one statement. A match or a parent means a thread that exists.
    st = RecordNew(**conn, rec, thread_index_root, out, done, stored_thread);
  } else if (thread_index_root.empty()) {
    // A reply: its parent's lookup (FindMessage) read the thread; swap that record.
    if (std::optional<std::string> old = Recall(rec.thread_id)) {
      st = RecordCas(**conn, rec, *old, done, stored_thread);
      if (done) out = rec;
    }
  }
  if (st.ok() && !done) {
    st = (*conn)->Transact(TxnMode::kReadCommitted, [&] {
      return RecordIn(**conn, rec, thread_index_root, out, stored_thread);
    });
  }
  if (!st.ok()) {
    Forget(rec.thread_id);
    return st.error();
  }
  if (!stored_thread.empty()) {  // stored now, not known before
    recent_.Remember(out, UnixNow());
    Remember(rec.thread_id, stored_thread);
    // The thread as stored, for a caller that needs it (no FindThread round trip after).
    if (thread_after) {
      Result<ThreadRecord> thread = DecodeThread(stored_thread);
      if (thread.ok()) {
        thread->thread_id = rec.thread_id;
        *thread_after = std::move(*thread);
      }
    }
  }
  return out;
}

void PgThreadBackend::Remember(std::string_view thread_id, std::string_view record) const {
  std::lock_guard lock(cache_mutex_);
  if (thread_cache_.size() >= kThreadCacheSize) thread_cache_.clear();
  thread_cache_[std::string(thread_id)] = std::string(record);
}

std::optional<std::string> PgThreadBackend::Recall(std::string_view thread_id) const {
  std::lock_guard lock(cache_mutex_);
  auto it = thread_cache_.find(std::string(thread_id));
  if (it == thread_cache_.end()) return std::nullopt;
  return it->second;
}

void PgThreadBackend::Forget(std::string_view thread_id) const {
  std::lock_guard lock(cache_mutex_);
  thread_cache_.erase(std::string(thread_id));
}

Result<std::vector<MessageRecord>> PgThreadBackend::ThreadMessages(std::string_view thread_id,
                                                                   size_t limit) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows = (*conn)->Run(
      kThreadMessages, {Param::Bytes(thread_id), Param::Int8(static_cast<int64_t>(limit))});
  if (!rows.ok()) return rows.error();
  std::vector<MessageRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    Result<std::optional<MessageRecord>> rec =
        DecodeMessageRow(rows->Bytes(i, 0), rows->Bytes(i, 1));
    if (!rec.ok()) return rec.error();
    out.push_back(std::move(**rec));
  }
  return out;
}

Status PgThreadBackend::SetThreadOwner(std::string_view thread_id, std::string_view owner) {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  return (*conn)->Transact(TxnMode::kReadCommitted, [&]() -> Status {
    Result<std::optional<ThreadRecord>> rec = LoadThread(**conn, kFindThreadForUpdate, thread_id);
    if (!rec.ok()) return rec.error();
    if (!rec->has_value()) {
      return MakeError(ErrorCode::kNotFound, "store: no thread " + std::string(thread_id));
    }
    (*rec)->owner = std::string(owner);
    Result<Rows> put = (*conn)->RunAndCommit(
        kPutThread, {Param::Bytes(thread_id), Param::Bytes(EncodeThread(**rec))});
    if (!put.ok()) return put.error();
    return {};
  });
}

Result<SweepStats> PgThreadBackend::Sweep(int64_t older_than_unix) {
  recent_.Clear();  // whatever this sweep removes is not answered from memory afterwards
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  SweepStats total;
  bool more = true;
  while (more) {
    SweepStats batch;
    Status st = (*conn)->Transact(TxnMode::kReadCommitted,
                                  [&] { return SweepIn(**conn, older_than_unix, batch, more); });
    if (!st.ok()) return st.error();
    total.messages += batch.messages;
    total.threads += batch.threads;
  }
  return total;
}

Result<std::vector<ThreadRecord>> PgThreadBackend::ListThreads(std::string_view after,
                                                               size_t limit) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  Result<Rows> rows =
      (*conn)->Run(kListThreads, {Param::Bytes(after), Param::Int8(static_cast<int64_t>(limit))});
  if (!rows.ok()) return rows.error();
  std::vector<ThreadRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    Result<ThreadRecord> rec = DecodeThread(rows->Bytes(i, 1));
    if (!rec.ok()) continue;  // a damaged record is left out of listings, as in LMDB's scan
    rec->thread_id = std::string(rows->Bytes(i, 0));
    out.push_back(std::move(*rec));
  }
  return out;
}

}  // namespace threadmill::store::pg
