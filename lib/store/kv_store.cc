// kv_store.cc - see kv_store.h.
#include "store/kv_store.h"

#include <algorithm>

#include "store/keys.h"

namespace threadmill::store {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The handler's namespace prefix, or kInvalidInput.
Result<std::string> Namespace(std::string_view handler) {
  bool ok = !handler.empty() && handler.size() <= kMaxHandlerNameBytes;
  for (unsigned char c : handler) ok = ok && c >= 0x20 && c != 0x7f;
  if (!ok) return MakeError(ErrorCode::kInvalidInput, "kv: invalid handler name");
  std::string ns(handler);
  ns.push_back('\0');
  return ns;
}

Status ValidateKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKvKeyBytes) {
    return MakeError(ErrorCode::kInvalidInput,
                     "kv: key must be 1.." + std::to_string(kMaxKvKeyBytes) + " bytes");
  }
  return {};
}

// Appends every hashed entry of `ns` whose key starts with `prefix`.
Status ListHashed(const Txn& txn, MDB_dbi dbi, const std::string& ns, std::string_view prefix,
                  bool include_values, std::vector<KvEntry>& out) {
  const std::string start = ns + kHashedKeyMark;
  Result<Cursor> cursor = Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.error();
  Result<bool> at = cursor->SeekRange(start);
  for (; at.ok() && *at && StartsWith(cursor->key(), start); at = cursor->Next()) {
    Result<KeyedEntry> entry = DecodeKeyedEntry(cursor->key().substr(ns.size()), cursor->value());
    if (!entry.ok()) return entry.error();
    if (!StartsWith(entry->key, prefix)) continue;
    out.push_back(KvEntry{std::string(entry->key),
                          include_values ? std::string(entry->payload) : std::string()});
  }
  if (!at.ok()) return at.error();
  return {};
}

// Appends up to `limit` directly stored entries of `ns` starting with `prefix`, in order.
Status ListDirect(const Txn& txn, MDB_dbi dbi, const std::string& ns, std::string_view prefix,
                  size_t limit, bool include_values, std::vector<KvEntry>& out) {
  if (!prefix.empty() && prefix.front() == kHashedKeyMark) return {};  // all hashed
  const std::string start = ns + std::string(prefix);
  Result<Cursor> cursor = Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.error();
  size_t taken = 0;
  Result<bool> at = cursor->SeekRange(start);
  while (at.ok() && *at && taken < limit && StartsWith(cursor->key(), start)) {
    std::string_view suffix = cursor->key().substr(ns.size());
    if (IsHashedKey(suffix)) {  // skip the hashed block, listed by ListHashed
      at = cursor->SeekRange(ns + static_cast<char>(kHashedKeyMark + 1));
      continue;
    }
    out.push_back(KvEntry{std::string(suffix),
                          include_values ? std::string(cursor->value()) : std::string()});
    ++taken;
    at = cursor->Next();
  }
  if (!at.ok()) return at.error();
  return {};
}

}  // namespace

KvStore::KvStore(std::shared_ptr<Environment> env) : env_(std::move(env)) {}

Result<std::optional<std::string>> KvStore::Get(std::string_view handler,
                                                std::string_view key) const {
  Result<std::string> ns = Namespace(handler);
  if (!ns.ok()) return ns.error();
  if (Status st = ValidateKey(key); !st.ok()) return st.error();
  std::optional<std::string> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    Result<std::optional<KeyedHit>> hit = KeyedFind(txn, env_->dbi(Db::kKv), *ns, key);
    if (!hit.ok()) return hit.error();
    if (hit->has_value()) out = std::string((*hit)->payload);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Status KvStore::Put(std::string_view handler, std::string_view key, std::string_view value) {
  Result<std::string> ns = Namespace(handler);
  if (!ns.ok()) return ns.error();
  if (Status st = ValidateKey(key); !st.ok()) return st;
  if (value.size() > kMaxKvValueBytes) {
    return MakeError(ErrorCode::kInvalidInput,
                     "kv: value larger than " + std::to_string(kMaxKvValueBytes) + " bytes");
  }
  return env_->Write([&](WriteTxn& txn) -> Status {
    Result<std::string> put = KeyedPut(txn, env_->dbi(Db::kKv), *ns, key, value);
    if (!put.ok()) return put.error();
    return {};
  });
}

Result<bool> KvStore::Delete(std::string_view handler, std::string_view key) {
  Result<std::string> ns = Namespace(handler);
  if (!ns.ok()) return ns.error();
  if (Status st = ValidateKey(key); !st.ok()) return st.error();
  bool deleted = false;
  Status st = env_->Write([&](WriteTxn& txn) -> Status {
    Result<bool> del = KeyedDelete(txn, env_->dbi(Db::kKv), *ns, key);
    if (!del.ok()) return del.error();
    deleted = *del;
    return {};
  });
  if (!st.ok()) return st.error();
  return deleted;
}

Result<std::vector<KvEntry>> KvStore::List(std::string_view handler, std::string_view prefix,
                                           size_t limit, bool include_values) const {
  Result<std::string> ns = Namespace(handler);
  if (!ns.ok()) return ns.error();
  if (prefix.size() > kMaxKvKeyBytes) {
    return MakeError(ErrorCode::kInvalidInput, "kv: prefix too long");
  }
  limit = std::min(limit, kMaxKvListLimit);
  std::vector<KvEntry> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.clear();
    if (limit == 0) return {};
    const MDB_dbi dbi = env_->dbi(Db::kKv);
    if (Status s = ListDirect(txn, dbi, *ns, prefix, limit, include_values, out); !s.ok()) {
      return s;
    }
    return ListHashed(txn, dbi, *ns, prefix, include_values, out);
  });
  if (!st.ok()) return st.error();
  std::sort(out.begin(), out.end(),
            [](const KvEntry& a, const KvEntry& b) { return a.key < b.key; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace threadmill::store
