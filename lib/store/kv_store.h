// kv_store.h - handler-private key/value records (the handler API's kv_get/put/delete/list).
//
// DESCRIPTION
//   Each handler has its own key space, so one handler can never read or list another's
//   records. KvStore checks the input and keeps the clock; the records are stored by a
//   KvBackend (kv_backend.h): the LMDB `kv` database (lmdb_kv_backend.h: handler + '\0' +
//   StoreKey(key), keys.h), or with [store] backend = "postgresql" the shared tm_kv table
//   (postgresql/pg_kv_backend.h) that every host reads and writes. Keys and values are opaque
//   bytes; List returns keys in byte order and pages with a start-after cursor (the last key of the
//   previous page). A record put with a TTL expires ttl seconds after the put: from then on Get,
//   List and Delete do not see it, and SweepExpired (run by the supervisor's housekeeping) removes
//   it. A put without TTL drops an earlier expiry.
//
// THREADING
//   Thread-safe; each call runs its own transaction (do not call from inside
//   Environment::Read/Write callbacks).
//
// LIMITS
//   The handler-visible limits are THREADMILL_KV_* in handler.h; the constants below equal
//   them (checked in host.cc). Handler names: 1..kMaxHandlerNameBytes bytes, no control characters.
//   Keys: 1..kMaxKvKeyBytes bytes. Values: at most kMaxKvValueBytes. Violations are kInvalidInput.
//   LMDB: keys longer than kMaxDirectKeyBytes (or starting with '\x01') are stored hashed: List
//   still returns them in order, but scans all of a handler's hashed keys to do so. List returns at
//   most kMaxKvListLimit entries per call (limit 0 means that maximum); page with start_after. TTLs
//   are capped at kMaxKvTtlSeconds (about 100 years). SweepExpired scans only the records that have
//   a TTL, at most `batch` removals per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/environment.h"
#include "store/kv_backend.h"

namespace threadmill::store {

inline constexpr size_t kMaxHandlerNameBytes = 64;
inline constexpr size_t kMaxKvKeyBytes = 4096;
inline constexpr size_t kMaxKvValueBytes = size_t{1} << 20;
inline constexpr size_t kMaxKvListLimit = 10000;
inline constexpr uint64_t kMaxKvTtlSeconds = uint64_t{100} * 366 * 86400;

class KvStore {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  // `env` must be non-null: its attached KV backend (environment.h SHARED BACKENDS), else
  // its LMDB databases. `clock` (default: the system clock) decides what has expired.
  explicit KvStore(std::shared_ptr<Environment> env, Clock clock = {});
  // Any backend (non-null), e.g. PostgreSQL.
  explicit KvStore(std::shared_ptr<KvBackend> backend, Clock clock = {});

  // The value of `key`, or nullopt (also when expired). Thread-safe.
  Result<std::optional<std::string>> Get(std::string_view handler, std::string_view key) const;
  // Creates or replaces `key`. ttl_seconds > 0: the record expires that many seconds from
  // now (capped at kMaxKvTtlSeconds); 0: never (an earlier TTL is dropped). Thread-safe.
  Status Put(std::string_view handler, std::string_view key, std::string_view value,
             uint64_t ttl_seconds = 0);
  // Removes `key`; false when it did not exist or had expired. Thread-safe.
  Result<bool> Delete(std::string_view handler, std::string_view key);
  // Up to `limit` (0 or more than kMaxKvListLimit: kMaxKvListLimit) live entries whose key
  // starts with `prefix` ("" = all) and is greater than `start_after` ("" = from the
  // start), ordered by key bytes; values only when `include_values`. Thread-safe.
  Result<std::vector<KvEntry>> List(std::string_view handler, std::string_view prefix, size_t limit,
                                    bool include_values, std::string_view start_after = {}) const;
  // Removes up to `batch` expired records (of every handler); returns how many. Thread-safe.
  Result<size_t> SweepExpired(size_t batch = 1000);

  // The list limit a caller's `limit` means (0 = the maximum). Pure.
  static size_t EffectiveListLimit(size_t limit) {
    return limit == 0 || limit > kMaxKvListLimit ? kMaxKvListLimit : limit;
  }

 private:
  int64_t Now() const;

  std::shared_ptr<KvBackend> backend_;
  Clock clock_;
};

}  // namespace threadmill::store
