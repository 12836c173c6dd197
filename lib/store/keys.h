// keys.h - how arbitrary byte strings become LMDB keys, and ordered binary key parts.
//
// DESCRIPTION
//   LMDB keys (and dupsort values) are at most 511 bytes; Message-IDs and Thread-Index
//   roots from the outside can be longer. StoreKey() keeps a key of up to
//   kMaxDirectKeyBytes as it is and replaces a longer one by "\x01h" + the 16 hex digits
//   of its 64-bit FNV-1a hash. Keys starting with '\x01' are hashed at any length, so a
//   stored key starting with '\x01' is always a hashed one.
//
//   Collisions: a hashed entry's value carries the full key: 4-byte big-endian length,
//   the key, then the payload. Lookups compare the full key. When two different long keys
//   share a hash, the second is stored under the hashed key + "#1" (then "#2", ...);
//   KeyedFind scans every entry starting with the hashed key, so deleting one of them never
//   hides another. Only the Keyed* functions know this layout; indexes refer to an entry
//   by its stored key.
//
//   Keys may live under a namespace prefix `ns` (e.g. "handler\0" in kv): the stored key is
//   ns + StoreKey(key).
//
// LIMITS
//   Hashed keys lose their order: range scans see them as a block after ns + "\x01".
//   ns + kMaxDirectKeyBytes must fit in 511 bytes (callers bound ns to 100 bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/txn.h"

namespace threadmill::store {

inline constexpr size_t kMaxDirectKeyBytes = 400;
inline constexpr char kHashedKeyMark = '\x01';
inline constexpr size_t kHashedKeyBytes = 18;  // "\x01h" + 16 hex digits

// 64-bit FNV-1a. Stable across builds and platforms (part of the on-disk format). Pure.
uint64_t Fnv1a64(std::string_view data);

// `key` itself when short enough and not starting with '\x01', else its hashed form. Pure.
std::string StoreKey(std::string_view key);

// True when a stored key (without namespace) is a hashed one. Pure.
inline bool IsHashedKey(std::string_view stored) {
  return !stored.empty() && stored.front() == kHashedKeyMark;
}

// Big-endian unsigned, so that byte order equals numeric order. Pure.
std::string EncodeU64(uint64_t value);
uint64_t DecodeU64(std::string_view eight_bytes);
// Unix time as 8 bytes ordered like the signed value (sign bit flipped). Pure.
std::string EncodeTime(int64_t unix_seconds);
int64_t DecodeTime(std::string_view eight_bytes);

// An entry found by KeyedFind. `payload` is owned by LMDB (valid as for Txn::Get).
struct KeyedHit {
  std::string stored_key;  // full LMDB key including ns
  std::string_view payload;
};

// Looks up `key` under `ns` in a non-dupsort database. Same threading as the txn.
Result<std::optional<KeyedHit>> KeyedFind(const Txn& txn, MDB_dbi dbi, std::string_view ns,
                                          std::string_view key);

// Stores key -> payload under `ns`, replacing an existing value, and returns the stored
// LMDB key (for indexes).
Result<std::string> KeyedPut(WriteTxn& txn, MDB_dbi dbi, std::string_view ns, std::string_view key,
                             std::string_view payload);

// Deletes `key` under `ns`. Returns false when absent.
Result<bool> KeyedDelete(WriteTxn& txn, MDB_dbi dbi, std::string_view ns, std::string_view key);

// Splits a raw entry, whose stored key without ns is `stored_suffix`, into its full key
// and payload. kStore when a hashed entry's value is malformed. Pure; views into `raw`.
struct KeyedEntry {
  std::string_view key;
  std::string_view payload;
};
Result<KeyedEntry> DecodeKeyedEntry(std::string_view stored_suffix, std::string_view raw);

}  // namespace threadmill::store
