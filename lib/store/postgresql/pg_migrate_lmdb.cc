// pg_migrate_lmdb.cc - see pg_migrate_lmdb.h: the thread kinds and MigrateFromLmdb.
#include "store/postgresql/pg_migrate_lmdb.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/keys.h"
#include "store/records.h"
#include "store/txn.h"

namespace threadmill::store::pg {
namespace {

const Statement kCopyMessage{
    "tm_copy_message",
    "INSERT INTO tm_message (msgid, thread_id, time, record) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT ((sha256(msgid))) DO NOTHING RETURNING true",
    {kBytea, kText, kInt8, kBytea}};
const Statement kHasMessage{
    "tm_has_message",
    "SELECT true FROM tm_message WHERE sha256(msgid) = sha256($1) AND msgid = $1",
    {kBytea}};
const Statement kCopyThread{"tm_copy_thread",
                            "INSERT INTO tm_thread (thread_id, record) VALUES ($1, $2) "
                            "ON CONFLICT (thread_id) DO NOTHING RETURNING true",
                            {kText, kBytea}};
const Statement kHasThread{
    "tm_has_thread", "SELECT true FROM tm_thread WHERE thread_id = $1", {kText}};
const Statement kCopyIndex{"tm_copy_index",
                           "INSERT INTO tm_thread_index (root, thread_id) VALUES ($1, $2) "
                           "ON CONFLICT ((sha256(root))) DO NOTHING RETURNING true",
                           {kBytea, kText}};
const Statement kHasIndex{
    "tm_has_index",
    "SELECT true FROM tm_thread_index WHERE sha256(root) = sha256($1) AND root = $1",
    {kBytea}};

using Entry = MigrateEntry;

}  // namespace

Status ForEachLmdbBatch(const Environment& env, Db db,
                        const std::function<Status(const std::vector<Entry>&)>& flush) {
  if (env.dbi(db) == kMissingDbi) return {};  // read-only: a database never created
  std::optional<std::string> after;
  for (;;) {
    std::vector<Entry> batch;
    Status read = env.Read([&](ReadTxn& txn) -> Status {
      batch.clear();
      Result<Cursor> cursor = Cursor::Open(txn, env.dbi(db));
      if (!cursor.ok()) return cursor.error();
      Result<bool> at = after ? cursor->SeekKey(*after) : cursor->First();
      if (at.ok() && *at && after && cursor->key() == *after) at = cursor->Next();
      for (; at.ok() && *at && batch.size() < kMigrateBatch; at = cursor->Next()) {
        batch.emplace_back(std::string(cursor->key()), std::string(cursor->value()));
      }
      if (!at.ok()) return at.error();
      return {};
    });
    if (!read.ok()) return read;
    if (batch.empty()) return {};
    after = batch.back().first;
    if (Status st = flush(batch); !st.ok()) return st;
    if (batch.size() < kMigrateBatch) return {};
  }
}

namespace {

// Inserts each row unless present (`has`: its first parameter is the key); with dry_run
// only counts the missing ones. One transaction; returns how many were (would be) copied.
Result<uint64_t> CopyRows(PgPool& pool, const Statement& copy, const Statement& has,
                          const std::vector<std::vector<Param>>& rows, bool dry_run) {
  Result<PgPool::Lease> conn = pool.Acquire();
  if (!conn.ok()) return conn.error();
  uint64_t copied = 0;
  Status st =
      (*conn)->Transact(dry_run ? TxnMode::kReadOnly : TxnMode::kReadCommitted, [&]() -> Status {
        copied = 0;  // a retried transaction counts again
        for (const std::vector<Param>& row : rows) {
          Result<Rows> r = dry_run ? (*conn)->Run(has, {row.front()}) : (*conn)->Run(copy, row);
          if (!r.ok()) return r.error();
          const bool present = r->size() > 0;
          if (dry_run ? !present : present) ++copied;
        }
        return {};
      });
  if (!st.ok()) return st.error();
  return copied;
}

}  // namespace

Result<MigrateCount> MigrateMessages(const std::shared_ptr<Environment>& lmdb,
                                     const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"messages"};
  Status st = ForEachLmdbBatch(*lmdb, Db::kMsgid, [&](const std::vector<Entry>& batch) -> Status {
    std::vector<std::vector<Param>> rows;
    for (const auto& [stored_key, raw] : batch) {
      ++count.found;
      Result<KeyedEntry> entry = DecodeKeyedEntry(stored_key, raw);
      Result<MessageRecord> rec =
          entry.ok() ? DecodeMessage(entry->payload) : Result<MessageRecord>(entry.error());
      if (!rec.ok() || rec->thread_id.empty()) {
        ++count.skipped;
        continue;
      }
      rows.push_back({Param::Bytes(entry->key), Param::Bytes(rec->thread_id),
                      Param::Int8(rec->time), Param::Bytes(entry->payload)});
    }
    Result<uint64_t> copied = CopyRows(*pool, kCopyMessage, kHasMessage, rows, dry_run);
    if (!copied.ok()) return copied.error();
    count.copied += *copied;
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

Result<MigrateCount> MigrateThreads(const std::shared_ptr<Environment>& lmdb,
                                    const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"threads"};
  Status st = ForEachLmdbBatch(*lmdb, Db::kThread, [&](const std::vector<Entry>& batch) -> Status {
    std::vector<std::vector<Param>> rows;
    for (const auto& [thread_id, raw] : batch) {
      ++count.found;
      if (!DecodeThread(raw).ok()) {
        ++count.skipped;
        continue;
      }
      rows.push_back({Param::Bytes(thread_id), Param::Bytes(raw)});
    }
    Result<uint64_t> copied = CopyRows(*pool, kCopyThread, kHasThread, rows, dry_run);
    if (!copied.ok()) return copied.error();
    count.copied += *copied;
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

Result<MigrateCount> MigrateThreadIndex(const std::shared_ptr<Environment>& lmdb,
                                        const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"thread-index"};
  Status st =
      ForEachLmdbBatch(*lmdb, Db::kThreadIndex, [&](const std::vector<Entry>& batch) -> Status {
        std::vector<std::vector<Param>> rows;
        for (const auto& [stored_key, raw] : batch) {
          ++count.found;
          Result<KeyedEntry> entry = DecodeKeyedEntry(stored_key, raw);
          if (!entry.ok() || entry->payload.empty()) {
            ++count.skipped;
            continue;
          }
          rows.push_back({Param::Bytes(entry->key), Param::Bytes(entry->payload)});
        }
        Result<uint64_t> copied = CopyRows(*pool, kCopyIndex, kHasIndex, rows, dry_run);
        if (!copied.ok()) return copied.error();
        count.copied += *copied;
        return {};
      });
  if (!st.ok()) return st.error();
  return count;
}

Result<std::vector<MigrateCount>> MigrateFromLmdb(const std::shared_ptr<Environment>& lmdb,
                                                  const std::shared_ptr<PgPool>& pool,
                                                  bool dry_run) {
  std::vector<MigrateCount> counts;
  for (MigrateKindFn kind : kMigrateKinds) {
    Result<MigrateCount> count = kind(lmdb, pool, dry_run);
    if (!count.ok()) return count.error();
    counts.push_back(std::move(*count));
  }
  return counts;
}

}  // namespace threadmill::store::pg
