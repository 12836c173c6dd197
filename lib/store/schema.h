// schema.h - the named LMDB databases of threadmill's store, declared in one place.
//
// DESCRIPTION
//   Every named database is listed here once, with its LMDB flags. Environment::Open opens
//   them all in its first transaction and hands out their MDB_dbi through Environment::dbi().
//   To add a database, append a Db value before kCount and a row to kDatabases (the table
//   is indexed by Db and checked at compile time); kMaxDbs leaves room for growth.
//
//   Layout (keys are bytes; "long" keys go through StoreKey, see keys.h):
//     msgid        normalized Message-ID        -> MessageRecord JSON
//     msg_time     be64(time) + msgid db key    -> "" (retention index for Sweep)
//     thread       thread id                    -> ThreadRecord JSON
//     thread_msgs  thread id (dupsort)          -> be64(time) + msgid db key
//     thread_index Outlook Thread-Index root    -> thread id
//     replied      inbound message key          -> reply Message-ID     (runtime)
//     spool        job id                       -> job                  (runtime)
//     spool_index  state + be64(time) + job id  -> "" (runtime; time = next_try for queued,
//                  updated otherwise: due jobs, running and old done jobs without a scan)
//     drafts       draft id                     -> draft                (runtime)
//     kv           handler + '\0' + key         -> opaque value
//     kv_ttl       kv db key                     -> EncodeTime(expiry) (only records put
//                  with a TTL; swept by KvStore::SweepExpired)
//     meta         "schema_version"             -> decimal version
//
// LIMITS
//   A database that does not exist in a read-only environment reads as empty.
#pragma once

#include <lmdb.h>

#include <cstddef>

namespace threadmill::store {

enum class Db : unsigned {
  kMsgid,
  kMsgTime,
  kThread,
  kThreadMsgs,
  kThreadIndex,
  kReplied,
  kSpool,
  kDrafts,
  kKv,
  kMeta,
  kSpoolIndex,
  kKvTtl,
  kCount,
};

struct DbSpec {
  Db db;
  const char* name;
  unsigned flags;  // MDB_DUPSORT etc.; MDB_CREATE is added when opening read-write
};

inline constexpr DbSpec kDatabases[] = {
    {Db::kMsgid, "msgid", 0},
    {Db::kMsgTime, "msg_time", 0},
    {Db::kThread, "thread", 0},
    {Db::kThreadMsgs, "thread_msgs", MDB_DUPSORT},
    {Db::kThreadIndex, "thread_index", 0},
    {Db::kReplied, "replied", 0},
    {Db::kSpool, "spool", 0},
    {Db::kDrafts, "drafts", 0},
    {Db::kKv, "kv", 0},
    {Db::kMeta, "meta", 0},
    {Db::kSpoolIndex, "spool_index", 0},
    {Db::kKvTtl, "kv_ttl", 0},
};

inline constexpr size_t kDbCount = static_cast<size_t>(Db::kCount);
static_assert(sizeof(kDatabases) / sizeof(kDatabases[0]) == kDbCount, "one row per Db");
constexpr bool DatabasesInOrder() {
  for (size_t i = 0; i < kDbCount; ++i) {
    if (static_cast<size_t>(kDatabases[i].db) != i) return false;
  }
  return true;
}
static_assert(DatabasesInOrder(), "kDatabases must be indexed by Db");

// Room for databases added later without changing existing environments.
inline constexpr unsigned kMaxDbs = 32;

// Version of the on-disk layout, stored in meta["schema_version"]. Opening an environment
// written by a newer schema fails instead of misreading it.
inline constexpr unsigned kSchemaVersion = 1;
inline constexpr const char* kSchemaVersionKey = "schema_version";

}  // namespace threadmill::store
