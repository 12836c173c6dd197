// keys.cc - see keys.h.
#include "store/keys.h"

#include <vector>

namespace threadmill::store {
namespace {

std::string WrapHashed(std::string_view key, std::string_view payload) {
  std::string out = EncodeU64(key.size()).substr(4);  // 4-byte big-endian length
  out.append(key);
  out.append(payload);
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

uint64_t Fnv1a64(std::string_view data) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string StoreKey(std::string_view key) {
  if (key.size() <= kMaxDirectKeyBytes && (key.empty() || key.front() != kHashedKeyMark)) {
    return std::string(key);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t h = Fnv1a64(key);
  std::string out = {kHashedKeyMark, 'h'};
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(h >> shift) & 0xf]);
  return out;
}

std::string EncodeU64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

uint64_t DecodeU64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

std::string EncodeTime(int64_t unix_seconds) {
  return EncodeU64(static_cast<uint64_t>(unix_seconds) ^ (uint64_t{1} << 63));
}

int64_t DecodeTime(std::string_view bytes) {
  return static_cast<int64_t>(DecodeU64(bytes) ^ (uint64_t{1} << 63));
}

Result<KeyedEntry> DecodeKeyedEntry(std::string_view stored_suffix, std::string_view raw) {
  if (!IsHashedKey(stored_suffix)) return KeyedEntry{stored_suffix, raw};
  if (raw.size() < 4) return MakeError(ErrorCode::kStore, "store: truncated hashed entry");
  size_t len = 0;
  for (size_t i = 0; i < 4; ++i) len = (len << 8) | static_cast<unsigned char>(raw[i]);
  if (raw.size() - 4 < len) return MakeError(ErrorCode::kStore, "store: truncated hashed entry");
  return KeyedEntry{raw.substr(4, len), raw.substr(4 + len)};
}

Result<std::optional<KeyedHit>> KeyedFind(const Txn& txn, MDB_dbi dbi, std::string_view ns,
                                          std::string_view key) {
  std::string base = std::string(ns) + StoreKey(key);
  if (!IsHashedKey(std::string_view(base).substr(ns.size()))) {
    Result<std::optional<std::string_view>> got = txn.Get(dbi, base);
    if (!got.ok()) return got.error();
    if (!got->has_value()) return std::optional<KeyedHit>();
    return std::optional<KeyedHit>(KeyedHit{std::move(base), **got});
  }
  Result<Cursor> cursor = Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.error();
  Result<bool> at = cursor->SeekRange(base);
  for (; at.ok() && *at && StartsWith(cursor->key(), base); at = cursor->Next()) {
    Result<KeyedEntry> entry = DecodeKeyedEntry(cursor->key().substr(ns.size()), cursor->value());
    if (!entry.ok()) return entry.error();
    if (entry->key == key) {
      return std::optional<KeyedHit>(KeyedHit{std::string(cursor->key()), entry->payload});
    }
  }
  if (!at.ok()) return at.error();
  return std::optional<KeyedHit>();
}

Result<std::string> KeyedPut(WriteTxn& txn, MDB_dbi dbi, std::string_view ns, std::string_view key,
                             std::string_view payload) {
  std::string base = std::string(ns) + StoreKey(key);
  if (!IsHashedKey(std::string_view(base).substr(ns.size()))) {
    if (Status st = txn.Put(dbi, base, payload); !st.ok()) return st.error();
    return base;
  }
  // Find this key's entry, or the first free collision slot.
  std::string target;
  std::vector<std::string> taken;
  {
    Result<Cursor> cursor = Cursor::Open(txn, dbi);
    if (!cursor.ok()) return cursor.error();
    Result<bool> at = cursor->SeekRange(base);
    for (; at.ok() && *at && StartsWith(cursor->key(), base); at = cursor->Next()) {
      Result<KeyedEntry> entry = DecodeKeyedEntry(cursor->key().substr(ns.size()), cursor->value());
      if (entry.ok() && entry->key == key) {
        target = std::string(cursor->key());
        break;
      }
      taken.emplace_back(cursor->key());
    }
    if (!at.ok()) return at.error();
  }
  for (unsigned slot = 0; target.empty(); ++slot) {
    std::string candidate = slot == 0 ? base : base + "#" + std::to_string(slot);
    bool used = false;
    for (const std::string& t : taken) used = used || t == candidate;
    if (!used) target = std::move(candidate);
  }
  if (Status st = txn.Put(dbi, target, WrapHashed(key, payload)); !st.ok()) return st.error();
  return target;
}

Result<bool> KeyedDelete(WriteTxn& txn, MDB_dbi dbi, std::string_view ns, std::string_view key) {
  Result<std::optional<KeyedHit>> hit = KeyedFind(txn, dbi, ns, key);
  if (!hit.ok()) return hit.error();
  if (!hit->has_value()) return false;
  return txn.Del(dbi, (*hit)->stored_key);
}

}  // namespace threadmill::store
