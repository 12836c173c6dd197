// lmdb_thread_backend.cc - see lmdb_thread_backend.h.
#include "store/lmdb_thread_backend.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "store/keys.h"
#include "store/thread_update.h"

namespace threadmill::store {
namespace {

Result<std::optional<ThreadRecord>> LoadThread(const Txn& txn, MDB_dbi dbi,
                                               std::string_view thread_id) {
  Result<std::optional<std::string_view>> raw = txn.Get(dbi, thread_id);
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return std::optional<ThreadRecord>();
  Result<ThreadRecord> rec = DecodeThread(**raw);
  if (!rec.ok()) return rec.error();
  rec->thread_id = std::string(thread_id);
  return std::optional<ThreadRecord>(std::move(*rec));
}

// The message stored under `stored_key` in msgid (nullopt when absent).
Result<std::optional<MessageRecord>> LoadMessageAt(const Txn& txn, MDB_dbi dbi,
                                                   std::string_view stored_key) {
  Result<std::optional<std::string_view>> raw = txn.Get(dbi, stored_key);
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return std::optional<MessageRecord>();
  Result<KeyedEntry> entry = DecodeKeyedEntry(stored_key, **raw);
  if (!entry.ok()) return entry.error();
  Result<MessageRecord> rec = DecodeMessage(entry->payload);
  if (!rec.ok()) return rec.error();
  rec->msgid = std::string(entry->key);  // the key's exact bytes, never the JSON copy
  return std::optional<MessageRecord>(std::move(*rec));
}

// Maps `root` to the thread unless it is mapped already or the thread has no room left.
Status MapThreadIndex(WriteTxn& txn, MDB_dbi dbi, std::string_view root, ThreadRecord& thread) {
  if (root.empty() || thread.thread_index_roots.size() >= kMaxThreadIndexRoots) return {};
  Result<std::optional<KeyedHit>> hit = KeyedFind(txn, dbi, {}, root);
  if (!hit.ok()) return hit.error();
  if (hit->has_value()) return {};
  Result<std::string> put = KeyedPut(txn, dbi, {}, root, thread.thread_id);
  if (!put.ok()) return put.error();
  thread.thread_index_roots.emplace_back(root);
  return {};
}

// One RecordMessage transaction; `out` receives the stored (or existing) record, `thread` the
// thread record stored (none for a known message).
Status RecordInTxn(const Environment& env, WriteTxn& txn, const MessageRecord& rec,
                   std::string_view root, MessageRecord& out, std::optional<ThreadRecord>& stored) {
  stored.reset();
  const MDB_dbi msgid_db = env.dbi(Db::kMsgid);
  Result<std::optional<KeyedHit>> hit = KeyedFind(txn, msgid_db, {}, rec.msgid);
  if (!hit.ok()) return hit.error();
  if (hit->has_value()) {
    Result<MessageRecord> existing = DecodeMessage((*hit)->payload);
    if (!existing.ok()) return existing.error();
    out = std::move(*existing);
    out.msgid = rec.msgid;
    // The MTA showing threadmill a message threadmill wrote itself (a reinjected reply,
    // recorded without a queue id before sendmail ran): note the MTA's queue id. This is
    // the "outbound echo" the reply path relies on for exactly-once (reply/replier.h).
    if (out.direction == Direction::kOutbound && out.queue_id.empty() &&
        rec.direction == Direction::kOutbound && !rec.queue_id.empty()) {
      out.queue_id = rec.queue_id;
      if (out.match.empty()) out.match = rec.match;  // how the echo matched (its parent)
      Result<std::string> updated = KeyedPut(txn, msgid_db, {}, rec.msgid, EncodeMessage(out));
      if (!updated.ok()) return updated.error();
    }
    return {};
  }
  Result<std::string> stored_key = KeyedPut(txn, msgid_db, {}, rec.msgid, EncodeMessage(rec));
  if (!stored_key.ok()) return stored_key.error();
  const std::string time_key = EncodeTime(rec.time) + *stored_key;
  if (Status st = txn.Put(env.dbi(Db::kMsgTime), time_key, rec.thread_id); !st.ok()) return st;
  if (Status st = txn.Put(env.dbi(Db::kThreadMsgs), rec.thread_id, time_key); !st.ok()) {
    return st;
  }
  Result<std::optional<ThreadRecord>> loaded = LoadThread(txn, env.dbi(Db::kThread), rec.thread_id);
  if (!loaded.ok()) return loaded.error();
  ThreadRecord thread = loaded->value_or(ThreadRecord{});
  thread.thread_id = rec.thread_id;
  ApplyMessage(thread, rec);
  if (Status st = MapThreadIndex(txn, env.dbi(Db::kThreadIndex), root, thread); !st.ok()) {
    return st;
  }
  if (Status st = txn.Put(env.dbi(Db::kThread), rec.thread_id, EncodeThread(thread)); !st.ok()) {
    return st;
  }
  out = rec;
  stored = std::move(thread);
  return {};
}

// An entry of msg_time chosen for deletion.
struct Doomed {
  std::string time_key;    // msg_time key == thread_msgs value
  std::string stored_key;  // msgid key
  std::string thread_id;
};

// Collects up to kSweepBatch msg_time entries older than `cutoff`.
Result<std::vector<Doomed>> CollectOld(const Txn& txn, MDB_dbi msg_time, int64_t cutoff) {
  std::vector<Doomed> out;
  Result<Cursor> cursor = Cursor::Open(txn, msg_time);
  if (!cursor.ok()) return cursor.error();
  Result<bool> at = cursor->First();
  for (; at.ok() && *at && out.size() < kSweepBatch; at = cursor->Next()) {
    std::string_view key = cursor->key();
    if (key.size() < 8 || DecodeTime(key.substr(0, 8)) >= cutoff) break;
    out.push_back(
        Doomed{std::string(key), std::string(key.substr(8)), std::string(cursor->value())});
  }
  if (!at.ok()) return at.error();
  return out;
}

// Rewrites or removes a thread some of whose messages (`gone`) were swept.
Result<bool> SettleThread(const Environment& env, WriteTxn& txn, const std::string& thread_id,
                          const std::set<std::string>& gone) {
  size_t left = 0;
  {
    Result<Cursor> cursor = Cursor::Open(txn, env.dbi(Db::kThreadMsgs));
    if (!cursor.ok()) return cursor.error();
    Result<bool> at = cursor->SeekKey(thread_id);
    if (!at.ok()) return at.error();
    if (*at) {
      Result<size_t> count = cursor->CountDups();
      if (!count.ok()) return count.error();
      left = *count;
    }
  }
  Result<std::optional<ThreadRecord>> loaded = LoadThread(txn, env.dbi(Db::kThread), thread_id);
  if (!loaded.ok()) return loaded.error();
  if (!loaded->has_value()) return false;
  ThreadRecord& thread = **loaded;
  if (left == 0) {
    for (const std::string& root : thread.thread_index_roots) {
      Result<std::optional<KeyedHit>> hit = KeyedFind(txn, env.dbi(Db::kThreadIndex), {}, root);
      if (!hit.ok()) return hit.error();
      if (hit->has_value() && (*hit)->payload == thread_id) {
        if (Result<bool> del = txn.Del(env.dbi(Db::kThreadIndex), (*hit)->stored_key); !del.ok()) {
          return del.error();
        }
      }
    }
    Result<bool> del = txn.Del(env.dbi(Db::kThread), thread_id);
    if (!del.ok()) return del.error();
    return true;
  }
  ForgetMessages(thread, left, gone);
  if (Status st = txn.Put(env.dbi(Db::kThread), thread_id, EncodeThread(thread)); !st.ok()) {
    return st.error();
  }
  return false;
}

// One Sweep transaction. Sets `more` when the batch was full.
Status SweepBatch(const Environment& env, WriteTxn& txn, int64_t cutoff, SweepStats& stats,
                  bool& more) {
  stats = SweepStats{};
  Result<std::vector<Doomed>> doomed = CollectOld(txn, env.dbi(Db::kMsgTime), cutoff);
  if (!doomed.ok()) return doomed.error();
  more = doomed->size() >= kSweepBatch;
  std::map<std::string, std::set<std::string>> touched;  // thread id -> swept msgids
  for (const Doomed& d : *doomed) {
    Result<std::optional<MessageRecord>> rec =
        LoadMessageAt(txn, env.dbi(Db::kMsgid), d.stored_key);
    std::set<std::string>& gone = touched[d.thread_id];
    if (rec.ok() && rec->has_value()) gone.insert((*rec)->msgid);  // corrupt: delete anyway
    if (Result<bool> del = txn.Del(env.dbi(Db::kMsgid), d.stored_key); !del.ok()) {
      return del.error();
    }
    if (Result<bool> del = txn.Del(env.dbi(Db::kMsgTime), d.time_key); !del.ok()) {
      return del.error();
    }
    Result<bool> del = txn.DelDup(env.dbi(Db::kThreadMsgs), d.thread_id, d.time_key);
    if (!del.ok()) return del.error();
    ++stats.messages;
  }
  for (const auto& [thread_id, gone] : touched) {
    Result<bool> removed = SettleThread(env, txn, thread_id, gone);
    if (!removed.ok()) return removed.error();
    if (*removed) ++stats.threads;
  }
  return {};
}

}  // namespace

LmdbThreadBackend::LmdbThreadBackend(std::shared_ptr<Environment> env) : env_(std::move(env)) {}

Result<std::optional<MessageRecord>> LmdbThreadBackend::FindMessage(std::string_view msgid) const {
  std::optional<MessageRecord> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    Result<std::optional<KeyedHit>> hit = KeyedFind(txn, env_->dbi(Db::kMsgid), {}, msgid);
    if (!hit.ok()) return hit.error();
    if (!hit->has_value()) return {};
    Result<MessageRecord> rec = DecodeMessage((*hit)->payload);
    if (!rec.ok()) return rec.error();
    rec->msgid = std::string(msgid);
    out = std::move(*rec);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::optional<ThreadRecord>> LmdbThreadBackend::FindThread(
    std::string_view thread_id) const {
  std::optional<ThreadRecord> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    Result<std::optional<ThreadRecord>> rec = LoadThread(txn, env_->dbi(Db::kThread), thread_id);
    if (!rec.ok()) return rec.error();
    out = std::move(*rec);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::optional<std::string>> LmdbThreadBackend::FindThreadByIndex(
    std::string_view thread_index_root) const {
  std::optional<std::string> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    Result<std::optional<KeyedHit>> hit =
        KeyedFind(txn, env_->dbi(Db::kThreadIndex), {}, thread_index_root);
    if (!hit.ok()) return hit.error();
    if (hit->has_value()) out = std::string((*hit)->payload);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<MessageRecord> LmdbThreadBackend::RecordMessage(const MessageRecord& rec,
                                                       std::string_view thread_index_root,
                                                       std::optional<ThreadRecord>* thread_after) {
  MessageRecord out;
  std::optional<ThreadRecord> stored;
  Status st = env_->Write(
      [&](WriteTxn& txn) { return RecordInTxn(*env_, txn, rec, thread_index_root, out, stored); });
  if (!st.ok()) return st.error();
  if (thread_after) *thread_after = std::move(stored);
  return out;
}

Result<std::vector<MessageRecord>> LmdbThreadBackend::ThreadMessages(std::string_view thread_id,
                                                                     size_t limit) const {
  std::vector<MessageRecord> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.clear();
    Result<Cursor> cursor = Cursor::Open(txn, env_->dbi(Db::kThreadMsgs));
    if (!cursor.ok()) return cursor.error();
    Result<bool> at = cursor->SeekKey(thread_id);
    for (; at.ok() && *at && out.size() < limit; at = cursor->NextDup()) {
      std::string_view value = cursor->value();
      if (value.size() <= 8) continue;
      Result<std::optional<MessageRecord>> rec =
          LoadMessageAt(txn, env_->dbi(Db::kMsgid), value.substr(8));
      if (!rec.ok()) return rec.error();
      if (rec->has_value()) out.push_back(std::move(**rec));
    }
    if (!at.ok()) return at.error();
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Status LmdbThreadBackend::SetThreadOwner(std::string_view thread_id, std::string_view owner) {
  return env_->Write([&](WriteTxn& txn) -> Status {
    Result<std::optional<ThreadRecord>> rec = LoadThread(txn, env_->dbi(Db::kThread), thread_id);
    if (!rec.ok()) return rec.error();
    if (!rec->has_value()) {
      return MakeError(ErrorCode::kNotFound, "store: no thread " + std::string(thread_id));
    }
    (*rec)->owner = std::string(owner);
    return txn.Put(env_->dbi(Db::kThread), thread_id, EncodeThread(**rec));
  });
}

Result<SweepStats> LmdbThreadBackend::Sweep(int64_t older_than_unix) {
  SweepStats total;
  bool more = true;
  while (more) {
    SweepStats batch;
    Status st = env_->Write(
        [&](WriteTxn& txn) { return SweepBatch(*env_, txn, older_than_unix, batch, more); });
    if (!st.ok()) return st.error();
    total.messages += batch.messages;
    total.threads += batch.threads;
  }
  return total;
}

Result<std::vector<ThreadRecord>> LmdbThreadBackend::ListThreads(std::string_view after,
                                                                 size_t limit) const {
  std::vector<ThreadRecord> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.clear();
    MDB_dbi dbi = env_->dbi(Db::kThread);
    if (dbi == kMissingDbi) return {};
    Result<Cursor> cursor = Cursor::Open(txn, dbi);
    if (!cursor.ok()) return cursor.error();
    Result<bool> at = after.empty() ? cursor->First() : cursor->SeekRange(after);
    for (; at.ok() && *at && out.size() < limit; at = cursor->Next()) {
      if (cursor->key() == after) continue;
      Result<ThreadRecord> rec = DecodeThread(cursor->value());
      if (!rec.ok()) continue;  // a damaged record is left out of listings
      rec->thread_id = std::string(cursor->key());
      out.push_back(std::move(*rec));
    }
    if (!at.ok()) return at.error();
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

}  // namespace threadmill::store
