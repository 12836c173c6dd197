// kv_backend.h - handler key/value records' storage as an interface (store::KvStore's backend).
//
// DESCRIPTION
//   store::KvStore (kv_store.h) keeps the validation (handler names, key and value sizes, TTL
//   cap, list limits) and the clock; a KvBackend stores records of already checked input:
//   (handler, key) -> value with an optional expiry (unix seconds). A record whose expiry is
//   <= `now` is invisible to Get, List and Delete and removed by SweepExpired.
//   Implementations:
//     LmdbKvBackend   the `kv` and `kv_ttl` LMDB databases (lmdb_kv_backend.h), unchanged layout
//     PgKvBackend     the tm_kv table in PostgreSQL (postgresql/pg_kv_backend.h), shared by hosts
//
// THREADING
//   Implementations are thread-safe; each call is its own transaction.
//
// LIMITS
//   Keys 1..4096 bytes of any value; List orders by key bytes (unsigned) and returns at most
//   `limit` entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::store {

struct KvEntry {
  std::string key;
  std::string value;  // empty unless values were requested

  bool operator==(const KvEntry&) const = default;
};

// What KvBackend::List returns: live keys starting with `prefix`, greater than `start_after`
// ("" = from the start), in key byte order, at most `limit`.
struct KvListQuery {
  std::string_view prefix;
  std::string_view start_after;
  size_t limit = 0;
  bool include_values = false;
  int64_t now = 0;
};

class KvBackend {
 public:
  virtual ~KvBackend() = default;
  virtual Result<std::optional<std::string>> Get(std::string_view handler, std::string_view key,
                                                 int64_t now) const = 0;
  // Creates or replaces; `expiry` nullopt: never expires (an earlier expiry is dropped).
  virtual Status Put(std::string_view handler, std::string_view key, std::string_view value,
                     std::optional<int64_t> expiry) = 0;
  // Removes the record; false when it was absent or expired at `now` (removed all the same).
  virtual Result<bool> Delete(std::string_view handler, std::string_view key, int64_t now) = 0;
  virtual Result<std::vector<KvEntry>> List(std::string_view handler,
                                            const KvListQuery& query) const = 0;
  // Removes up to `batch` records (of every handler) expired at `now`; returns how many.
  virtual Result<size_t> SweepExpired(int64_t now, size_t batch) = 0;
};

}  // namespace threadmill::store
