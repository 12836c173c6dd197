// pg_migrate_lmdb.h - copies an existing LMDB store's shared data into PostgreSQL, for
// `threadmillctl migrate-store --from lmdb` (switching an installation to backend =
// "postgresql" without starting from empty threads and an empty replied-once ledger).
//
// DESCRIPTION
//   One small function per data kind (kMigrateKinds below), each reading its LMDB database
//   in batches of kMigrateBatch entries and inserting each entry that PostgreSQL does not hold
//   yet (one READ COMMITTED transaction per batch for the thread kinds, one SERIALIZABLE
//   ledger transaction per batch for the ledger). Existing PostgreSQL rows always win: a
//   Message-ID, thread, Thread-Index root or ledger entry already there is left as it is, so
//   running the copy again copies nothing and a database already in use is never overwritten.
//   dry_run counts what would be copied without writing.
//     messages       LMDB msgid         -> tm_message (Message-ID -> thread, the record)
//     threads        LMDB thread        -> tm_thread (thread records, owners)
//     thread-index   LMDB thread_index  -> tm_thread_index (Outlook Thread-Index roots)
//     ledger         LMDB replied       -> tm_replied_once / tm_ledger (every namespace of
//                                           ledger_backend.h: once, rate, thread, send, ...)
//     kv             LMDB kv + kv_ttl    -> tm_kv (handler KV: a record with a TTL keeps its
//                                           expiry, an expired one is not copied; the reserved
//                                           non-handler namespaces such as the LMDB job queue's
//                                           spool dedupe index are not handler data: skipped)
//     drafts         LMDB drafts         -> tm_draft (the JSON record as stored, any state)
//     counters       LMDB meta counter:* -> tm_counter (totals ADDED once per LMDB store: a
//                                           marker in tm_ledger, see MigrateCounters)
//   Jobs are not copied: a daemon running with PostgreSQL pushes its own jobs.
//
// THREADING
//   Call from one thread. Safe while a daemon uses either store (LMDB read transactions; each
//   PostgreSQL row is inserted only when absent), but a message recorded in LMDB after its
//   batch was read is not copied: stop the daemons (or run again after switching).
//
// LIMITS
//   Thread ids must be UTF-8 (ThreadStore's are ASCII). A thread in both stores keeps the
//   PostgreSQL record (its counts do not include the LMDB-only messages copied beside it).
//   Counters are marked copied under the store directory's canonical path: a copy of the
//   same store in another directory would add its totals again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <functional>
#include <utility>

#include "common/result.h"
#include "store/environment.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

inline constexpr size_t kMigrateBatch = 500;

struct MigrateCount {
  std::string kind;      // "messages", "threads", ...
  uint64_t found = 0;    // entries in the LMDB store
  uint64_t copied = 0;   // inserted into PostgreSQL (dry run: missing there, would be copied)
  uint64_t skipped = 0;  // LMDB entries that cannot be decoded (not copied)
};

using MigrateEntry = std::pair<std::string, std::string>;  // LMDB key, value

// Visits `db` in batches of kMigrateBatch entries, each read in its own short read
// transaction (a long one would hold up the daemon's map growth), then handed to `flush`
// outside it.
Status ForEachLmdbBatch(const Environment& env, Db db,
                        const std::function<Status(const std::vector<MigrateEntry>&)>& flush);

// One data kind: reads `lmdb`, writes (unless dry_run) into `pool`.
using MigrateKindFn = Result<MigrateCount> (*)(const std::shared_ptr<Environment>& lmdb,
                                               const std::shared_ptr<PgPool>& pool, bool dry_run);

Result<MigrateCount> MigrateMessages(const std::shared_ptr<Environment>& lmdb,
                                     const std::shared_ptr<PgPool>& pool, bool dry_run);
Result<MigrateCount> MigrateThreads(const std::shared_ptr<Environment>& lmdb,
                                    const std::shared_ptr<PgPool>& pool, bool dry_run);
Result<MigrateCount> MigrateThreadIndex(const std::shared_ptr<Environment>& lmdb,
                                        const std::shared_ptr<PgPool>& pool, bool dry_run);
Result<MigrateCount> MigrateLedger(const std::shared_ptr<Environment>& lmdb,
                                   const std::shared_ptr<PgPool>& pool, bool dry_run);
Result<MigrateCount> MigrateKv(const std::shared_ptr<Environment>& lmdb,
                               const std::shared_ptr<PgPool>& pool, bool dry_run);
Result<MigrateCount> MigrateDrafts(const std::shared_ptr<Environment>& lmdb,
                                   const std::shared_ptr<PgPool>& pool, bool dry_run);
Result<MigrateCount> MigrateCounters(const std::shared_ptr<Environment>& lmdb,
                                     const std::shared_ptr<PgPool>& pool, bool dry_run);

// The kinds, copied in this order. A kind moving to PostgreSQL adds its function here
// (jobs: not copied, see DESCRIPTION).
inline constexpr MigrateKindFn kMigrateKinds[] = {
    MigrateMessages, MigrateThreads, MigrateThreadIndex, MigrateLedger,
    MigrateKv,       MigrateDrafts,  MigrateCounters,
};

// Every kind in order; stops at the first error (what was copied before stays copied: a
// second run continues where this one stopped).
Result<std::vector<MigrateCount>> MigrateFromLmdb(const std::shared_ptr<Environment>& lmdb,
                                                  const std::shared_ptr<PgPool>& pool,
                                                  bool dry_run);

}  // namespace threadmill::store::pg
