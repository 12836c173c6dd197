// kv_store.h - handler-private key/value records (the handler API's kv_get/put/delete/list).
//
// DESCRIPTION
//   Each handler has its own key space in the `kv` database: the LMDB key is
//   handler + '\0' + StoreKey(key) (keys.h), so one handler can never read or list
//   another's records. Keys and values are opaque bytes; List returns keys in byte order.
//
// THREADING
//   Thread-safe; each call runs its own transaction (do not call from inside
//   Environment::Read/Write callbacks).
//
// LIMITS
//   Handler names: 1..kMaxHandlerNameBytes bytes, no control characters. Keys:
//   1..kMaxKvKeyBytes bytes. Values: at most kMaxKvValueBytes. Violations are
//   kInvalidInput. Keys longer than kMaxDirectKeyBytes (or starting with '\x01') are stored
//   hashed: List still returns them in order, but scans all of a handler's hashed keys to do
//   so (cost grows with their number, not with the limit). List returns at most
//   kMaxKvListLimit entries per call; page with a longer prefix or the last key.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::store {

inline constexpr size_t kMaxHandlerNameBytes = 64;
inline constexpr size_t kMaxKvKeyBytes = 4096;
inline constexpr size_t kMaxKvValueBytes = size_t{1} << 20;
inline constexpr size_t kMaxKvListLimit = 10000;

struct KvEntry {
  std::string key;
  std::string value;  // empty unless values were requested

  bool operator==(const KvEntry&) const = default;
};

class KvStore {
 public:
  // `env` must be non-null.
  explicit KvStore(std::shared_ptr<Environment> env);

  // The value of `key`, or nullopt. Thread-safe.
  Result<std::optional<std::string>> Get(std::string_view handler, std::string_view key) const;
  // Creates or replaces `key`. Thread-safe.
  Status Put(std::string_view handler, std::string_view key, std::string_view value);
  // Removes `key`; false when it did not exist. Thread-safe.
  Result<bool> Delete(std::string_view handler, std::string_view key);
  // Up to `limit` (capped at kMaxKvListLimit) entries whose key starts with `prefix`
  // ("" = all), ordered by key bytes; values only when `include_values`. Thread-safe.
  Result<std::vector<KvEntry>> List(std::string_view handler, std::string_view prefix, size_t limit,
                                    bool include_values) const;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
