// pg_migrate_handler_data.cc - see pg_migrate_lmdb.h: the handler kinds (handler KV, drafts,
// counters), read from their LMDB layouts (lmdb_kv_backend.h, lmdb_draft_backend.h,
// lmdb_counters_backend.h) and written as PgKvBackend, PgDraftBackend and PgCountersBackend
// store them (tm_kv, tm_draft, tm_counter; pg_schema.cc).
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/keys.h"
#include "store/lmdb_counters_backend.h"
#include "store/postgresql/pg_migrate_lmdb.h"
#include "store/txn.h"

namespace threadmill::store::pg {
namespace {

// A handler KV record is copied unless a live row with its (handler, key) is there; a row
// that expired (not swept yet) loses to the LMDB record.
const Statement kCopyKv{"tm_copy_kv",
                        "INSERT INTO tm_kv (handler, key, value, expires) VALUES ($1, $2, $3, $4) "
                        "ON CONFLICT (handler, (sha256(key))) DO UPDATE SET "
                        "value = EXCLUDED.value, expires = EXCLUDED.expires "
                        "WHERE tm_kv.expires IS NOT NULL AND tm_kv.expires <= $5 RETURNING true",
                        {kBytea, kBytea, kBytea, kInt8, kInt8}};
const Statement kCopyKvForever{
    "tm_copy_kv_forever",
    "INSERT INTO tm_kv (handler, key, value, expires) VALUES ($1, $2, $3, NULL) "
    "ON CONFLICT (handler, (sha256(key))) DO UPDATE SET "
    "value = EXCLUDED.value, expires = NULL "
    "WHERE tm_kv.expires IS NOT NULL AND tm_kv.expires <= $4 RETURNING true",
    {kBytea, kBytea, kBytea, kInt8}};
const Statement kHasKv{"tm_has_kv",
                       "SELECT true FROM tm_kv WHERE handler = $1 AND sha256(key) = sha256($2) "
                       "AND key = $2 AND (expires IS NULL OR expires > $3)",
                       {kBytea, kBytea, kInt8}};
const Statement kCopyDraft{"tm_copy_draft",
                           "INSERT INTO tm_draft (id, handler, state, created, updated, record) "
                           "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING "
                           "RETURNING true",
                           {kText, kText, kText, kInt8, kInt8, kBytea}};
const Statement kHasDraft{"tm_has_draft", "SELECT true FROM tm_draft WHERE id = $1", {kText}};
// The counters marker (see MigrateCounters): a tm_ledger entry in a namespace of its own, no
// LedgerBackend namespace (ledger_backend.h), so the ledger never reads or sweeps it.
constexpr std::string_view kMigratedNs = "migrated";  // ns is text: no NUL
const Statement kMarkCounters{"tm_mark_counters",
                              "INSERT INTO tm_ledger (ns, key, value) VALUES ($1, $2, $3) "
                              "ON CONFLICT (ns, (sha256(key))) DO NOTHING RETURNING true",
                              {kText, kBytea, kBytea}};
const Statement kHasMark{
    "tm_has_counters_mark",
    "SELECT true FROM tm_ledger WHERE ns = $1 AND sha256(key) = sha256($2) AND key = $2",
    {kText, kBytea}};
const Statement kAddCounter{
    "tm_migrate_counter_add",
    "INSERT INTO tm_counter (series, value) VALUES ($1, $2) "
    "ON CONFLICT (series) DO UPDATE SET value = tm_counter.value + EXCLUDED.value",
    {kBytea, kInt8}};

// Reserved non-handler namespaces of the kv database start with this byte (handler names
// never do): the spool dedupe index of the LMDB job queue (runtime/job_queue.h
// kSpoolDedupeNamespace, "\x02spool-dedupe\0") belongs to the LMDB jobs, which are not copied
// (with PostgreSQL the daemon pushes its jobs itself, PushLocal).
constexpr char kReservedNamespaceMark = '\x02';

struct KvRecord {
  std::string stored;             // the kv db key (handler '\0' StoreKey(key))
  std::string value;              // as stored (hashed keys: with the full key)
  std::optional<int64_t> expiry;  // kv_ttl, when the record has one
};

// Visits the kv database in batches of kMigrateBatch records with their expiries, each batch
// read in its own short read transaction (as ForEachBatch in pg_migrate_lmdb.cc).
Status ForEachKvBatch(const Environment& env,
                      const std::function<Status(const std::vector<KvRecord>&)>& flush) {
  std::optional<std::string> after;
  if (env.dbi(Db::kKv) == kMissingDbi) return {};  // a store that never had handler KV
  for (;;) {
    std::vector<KvRecord> batch;
    Status read = env.Read([&](ReadTxn& txn) -> Status {
      batch.clear();
      Result<Cursor> cursor = Cursor::Open(txn, env.dbi(Db::kKv));
      if (!cursor.ok()) return cursor.error();
      Result<bool> at = after ? cursor->SeekKey(*after) : cursor->First();
      if (at.ok() && *at && after && cursor->key() == *after) at = cursor->Next();
      for (; at.ok() && *at && batch.size() < kMigrateBatch; at = cursor->Next()) {
        KvRecord rec{std::string(cursor->key()), std::string(cursor->value()), std::nullopt};
        const MDB_dbi ttl = env.dbi(Db::kKvTtl);
        if (ttl != kMissingDbi) {
          Result<std::optional<std::string_view>> expiry = txn.Get(ttl, rec.stored);
          if (!expiry.ok()) return expiry.error();
          if (expiry->has_value() && (*expiry)->size() == 8) rec.expiry = DecodeTime(**expiry);
        }
        batch.push_back(std::move(rec));
      }
      if (!at.ok()) return at.error();
      return {};
    });
    if (!read.ok()) return read;
    if (batch.empty()) return {};
    after = batch.back().stored;
    if (Status st = flush(batch); !st.ok()) return st;
    if (batch.size() < kMigrateBatch) return {};
  }
}

// One row to copy: the INSERT's parameters and the dry run's presence query's.
struct CopyRow {
  std::vector<Param> copy;
  std::vector<Param> has;
};

// Inserts each row unless present; with dry_run only counts the missing ones. One
// transaction; returns how many were (would be) copied.
Result<uint64_t> CopyRowsChecked(PgPool& pool, const Statement& copy, const Statement& has,
                                 const std::vector<CopyRow>& rows, bool dry_run) {
  if (rows.empty()) return uint64_t{0};
  Result<PgPool::Lease> conn = pool.Acquire();
  if (!conn.ok()) return conn.error();
  uint64_t copied = 0;
  Status st =
      (*conn)->Transact(dry_run ? TxnMode::kReadOnly : TxnMode::kReadCommitted, [&]() -> Status {
        copied = 0;  // a retried transaction counts again
        for (const CopyRow& row : rows) {
          Result<Rows> r = dry_run ? (*conn)->Run(has, row.has) : (*conn)->Run(copy, row.copy);
          if (!r.ok()) return r.error();
          const bool present = r->size() > 0;
          if (dry_run ? !present : present) ++copied;
        }
        return {};
      });
  if (!st.ok()) return st.error();
  return copied;
}

// The key recording that this LMDB store's counters were added: "counters" '\0' and the
// store directory's canonical path (the same store reached through a symlink still matches).
std::string CountersMarkKey(const Environment& env) {
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(env.path(), ec);
  std::string key("counters\0", 9);
  key += ec ? env.path() : canonical.string();
  return key;
}

}  // namespace

Result<MigrateCount> MigrateKv(const std::shared_ptr<Environment>& lmdb,
                               const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"kv"};
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  Status st = ForEachKvBatch(*lmdb, [&](const std::vector<KvRecord>& batch) -> Status {
    std::vector<CopyRow> expiring, forever;
    for (const KvRecord& rec : batch) {
      if (!rec.stored.empty() && rec.stored.front() == kReservedNamespaceMark) continue;
      const size_t nul = rec.stored.find('\0');
      if (nul == std::string::npos || nul == 0) {
        ++count.found;
        ++count.skipped;
        continue;
      }
      ++count.found;
      if (rec.expiry && *rec.expiry <= now) continue;  // expired: not copied
      const std::string_view handler = std::string_view(rec.stored).substr(0, nul);
      Result<KeyedEntry> entry =
          DecodeKeyedEntry(std::string_view(rec.stored).substr(nul + 1), rec.value);
      if (!entry.ok() || entry->key.empty()) {
        ++count.skipped;
        continue;
      }
      std::vector<Param> has{Param::Bytes(handler), Param::Bytes(entry->key), Param::Int8(now)};
      std::vector<Param> copy{Param::Bytes(handler), Param::Bytes(entry->key),
                              Param::Bytes(entry->payload)};
      if (rec.expiry) copy.push_back(Param::Int8(*rec.expiry));  // keeps its expiry
      copy.push_back(Param::Int8(now));
      (rec.expiry ? expiring : forever).push_back(CopyRow{std::move(copy), std::move(has)});
    }
    for (const auto* rows : {&expiring, &forever}) {
      Result<uint64_t> copied = CopyRowsChecked(*pool, rows == &expiring ? kCopyKv : kCopyKvForever,
                                                kHasKv, *rows, dry_run);
      if (!copied.ok()) return copied.error();
      count.copied += *copied;
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return count;
}

Result<MigrateCount> MigrateDrafts(const std::shared_ptr<Environment>& lmdb,
                                   const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"drafts"};
  Status st =
      ForEachLmdbBatch(*lmdb, Db::kDrafts, [&](const std::vector<MigrateEntry>& batch) -> Status {
        std::vector<CopyRow> rows;
        for (const auto& [id, record] : batch) {
          ++count.found;
          // The columns PgDraftBackend looks drafts up by, from the JSON (drafts.cc's fields).
          nlohmann::json j = nlohmann::json::parse(record, nullptr, false);
          if (id.empty() || j.is_discarded() || !j.is_object()) {
            ++count.skipped;
            continue;
          }
          auto text = [&](const char* field) {
            auto it = j.find(field);
            return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
          };
          auto number = [&](const char* field) {
            auto it = j.find(field);
            return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : int64_t{0};
          };
          rows.push_back(CopyRow{{Param::Bytes(id), Param::Bytes(text("handler")),
                                  Param::Bytes(text("state")), Param::Int8(number("created")),
                                  Param::Int8(number("updated")), Param::Bytes(record)},
                                 {Param::Bytes(id)}});
        }
        Result<uint64_t> copied = CopyRowsChecked(*pool, kCopyDraft, kHasDraft, rows, dry_run);
        if (!copied.ok()) return copied.error();
        count.copied += *copied;
        return {};
      });
  if (!st.ok()) return st.error();
  return count;
}

// Counters are totals, not rows: PostgreSQL's tm_counter already counts what the daemons
// did since they switched, so the LMDB totals are ADDED to it, and exactly once. A marker
// entry (tm_ledger, namespace "migrated", key "counters" '\0' canonical store path) is
// inserted in the same transaction as the additions: the run that inserts it adds the
// totals, any later run (or a concurrent one, which waits on the unique index and then
// finds the marker) adds nothing. Skipping the series already in tm_counter instead would
// lose the LMDB history of every event the daemon counted again after the switch. The
// path is the store's identity: the same store copied from another directory would be
// added again (LIMITS in pg_migrate_lmdb.h). `copied` is the number of series added.
Result<MigrateCount> MigrateCounters(const std::shared_ptr<Environment>& lmdb,
                                     const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"counters"};
  // Few series (one per event kind and label set): one short read transaction.
  Result<std::vector<std::pair<std::string, uint64_t>>> totals = LmdbCountersBackend(lmdb).All();
  if (!totals.ok()) return totals.error();
  count.found = totals->size();
  if (totals->empty()) return count;
  const std::string mark = CountersMarkKey(*lmdb);
  Result<PgPool::Lease> conn = pool->Acquire();
  if (!conn.ok()) return conn.error();
  Status st =
      (*conn)->Transact(dry_run ? TxnMode::kReadOnly : TxnMode::kReadCommitted, [&]() -> Status {
        count.copied = 0;  // a retried transaction counts again
        const std::vector<Param> key{Param::Bytes(kMigratedNs), Param::Bytes(mark)};
        if (dry_run) {
          Result<Rows> there = (*conn)->Run(kHasMark, key);
          if (!there.ok()) return there.error();
          if (there->size() == 0) count.copied = totals->size();
          return {};
        }
        Result<Rows> marked = (*conn)->Run(
            kMarkCounters, {key[0], key[1], Param::Bytes(std::to_string(std::time(nullptr)))});
        if (!marked.ok()) return marked.error();
        if (marked->size() == 0) return {};  // added by an earlier run
        for (const auto& [series, total] : *totals) {
          Result<Rows> added = (*conn)->Run(
              kAddCounter, {Param::Bytes(series), Param::Int8(static_cast<int64_t>(total))});
          if (!added.ok()) return added.error();
          ++count.copied;
        }
        return {};
      });
  if (!st.ok()) return st.error();
  return count;
}

}  // namespace threadmill::store::pg
