// lmdb_kv_backend.cc - see lmdb_kv_backend.h.
#include "store/lmdb_kv_backend.h"

#include <algorithm>

#include "store/keys.h"

namespace threadmill::store {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// True when the record stored under the kv db key `stored` has a TTL that ran out by `now`.
Result<bool> Expired(const Txn& txn, MDB_dbi ttl_dbi, std::string_view stored, int64_t now) {
  if (stored.size() > 511) return false;  // never stored (LMDB's key limit)
  Result<std::optional<std::string_view>> expiry = txn.Get(ttl_dbi, stored);
  if (!expiry.ok()) return expiry.error();
  if (!expiry->has_value() || (*expiry)->size() != 8) return false;
  return DecodeTime(**expiry) <= now;
}

// What List keeps: live keys starting with prefix and greater than start_after.
struct ListFilter {
  MDB_dbi ttl_dbi;
  int64_t now;
  std::string_view prefix;
  std::string_view start_after;
};

// True when the entry (full kv db key `stored`, handler key `key`) belongs in the list.
Result<bool> Wanted(const Txn& txn, const ListFilter& f, std::string_view stored,
                    std::string_view key) {
  if (!StartsWith(key, f.prefix)) return false;
  if (!f.start_after.empty() && key <= f.start_after) return false;
  Result<bool> expired = Expired(txn, f.ttl_dbi, stored, f.now);
  if (!expired.ok()) return expired.error();
  return !*expired;
}

// Appends every wanted hashed entry of `ns`.
Status ListHashed(const Txn& txn, MDB_dbi dbi, const std::string& ns, const ListFilter& filter,
                  bool include_values, std::vector<KvEntry>& out) {
  const std::string start = ns + kHashedKeyMark;
  Result<Cursor> cursor = Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.error();
  Result<bool> at = cursor->SeekRange(start);
  for (; at.ok() && *at && StartsWith(cursor->key(), start); at = cursor->Next()) {
    Result<KeyedEntry> entry = DecodeKeyedEntry(cursor->key().substr(ns.size()), cursor->value());
    if (!entry.ok()) return entry.error();
    Result<bool> wanted = Wanted(txn, filter, cursor->key(), entry->key);
    if (!wanted.ok()) return wanted.error();
    if (!*wanted) continue;
    out.push_back(KvEntry{std::string(entry->key),
                          include_values ? std::string(entry->payload) : std::string()});
  }
  if (!at.ok()) return at.error();
  return {};
}

// Appends up to `limit` wanted directly stored entries of `ns`, in order.
Status ListDirect(const Txn& txn, MDB_dbi dbi, const std::string& ns, const ListFilter& filter,
                  size_t limit, bool include_values, std::vector<KvEntry>& out) {
  const std::string_view prefix = filter.prefix;
  if (!prefix.empty() && prefix.front() == kHashedKeyMark) return {};  // all hashed
  const std::string start = ns + std::string(prefix);
  // Direct keys are stored as themselves, so seeking to start_after skips what precedes it;
  // a start_after longer than any direct key is cut (Wanted drops the one equal key left).
  std::string seek = start;
  if (filter.start_after > prefix) {
    seek = ns + std::string(filter.start_after.substr(0, kMaxDirectKeyBytes));
  }
  Result<Cursor> cursor = Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.error();
  size_t taken = 0;
  Result<bool> at = cursor->SeekRange(seek);
  while (at.ok() && *at && taken < limit && StartsWith(cursor->key(), start)) {
    std::string_view suffix = cursor->key().substr(ns.size());
    if (IsHashedKey(suffix)) {  // skip the hashed block, listed by ListHashed
      at = cursor->SeekRange(ns + static_cast<char>(kHashedKeyMark + 1));
      continue;
    }
    Result<bool> wanted = Wanted(txn, filter, cursor->key(), suffix);
    if (!wanted.ok()) return wanted.error();
    if (!*wanted) {
      at = cursor->Next();
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

// The handler's namespace prefix in the kv database.
std::string Namespace(std::string_view handler) {
  std::string ns(handler);
  ns.push_back('\0');
  return ns;
}

}  // namespace

Result<std::optional<std::string>> LmdbKvBackend::Get(std::string_view handler,
                                                      std::string_view key, int64_t now) const {
  const std::string ns = Namespace(handler);
  std::optional<std::string> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.reset();
    Result<std::optional<KeyedHit>> hit = KeyedFind(txn, env_->dbi(Db::kKv), ns, key);
    if (!hit.ok()) return hit.error();
    if (!hit->has_value()) return {};
    Result<bool> expired = Expired(txn, env_->dbi(Db::kKvTtl), (*hit)->stored_key, now);
    if (!expired.ok()) return expired.error();
    if (!*expired) out = std::string((*hit)->payload);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Status LmdbKvBackend::Put(std::string_view handler, std::string_view key, std::string_view value,
                          std::optional<int64_t> expiry) {
  const std::string ns = Namespace(handler);
  return env_->Write([&](WriteTxn& txn) -> Status {
    Result<std::string> put = KeyedPut(txn, env_->dbi(Db::kKv), ns, key, value);
    if (!put.ok()) return put.error();
    if (expiry) return txn.Put(env_->dbi(Db::kKvTtl), *put, EncodeTime(*expiry));
    Result<bool> dropped = txn.Del(env_->dbi(Db::kKvTtl), *put);
    if (!dropped.ok()) return dropped.error();
    return {};
  });
}

Result<bool> LmdbKvBackend::Delete(std::string_view handler, std::string_view key, int64_t now) {
  const std::string ns = Namespace(handler);
  bool deleted = false;
  Status st = env_->Write([&](WriteTxn& txn) -> Status {
    deleted = false;
    Result<std::optional<KeyedHit>> hit = KeyedFind(txn, env_->dbi(Db::kKv), ns, key);
    if (!hit.ok()) return hit.error();
    if (!hit->has_value()) return {};
    const std::string stored = (*hit)->stored_key;
    Result<bool> expired = Expired(txn, env_->dbi(Db::kKvTtl), stored, now);
    if (!expired.ok()) return expired.error();
    Result<bool> del = KeyedDelete(txn, env_->dbi(Db::kKv), ns, key);
    if (!del.ok()) return del.error();
    Result<bool> dropped = txn.Del(env_->dbi(Db::kKvTtl), stored);
    if (!dropped.ok()) return dropped.error();
    deleted = *del && !*expired;
    return {};
  });
  if (!st.ok()) return st.error();
  return deleted;
}

Result<std::vector<KvEntry>> LmdbKvBackend::List(std::string_view handler,
                                                 const KvListQuery& query) const {
  const std::string ns = Namespace(handler);
  const ListFilter filter{env_->dbi(Db::kKvTtl), query.now, query.prefix, query.start_after};
  std::vector<KvEntry> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.clear();
    const MDB_dbi dbi = env_->dbi(Db::kKv);
    if (Status s = ListDirect(txn, dbi, ns, filter, query.limit, query.include_values, out);
        !s.ok()) {
      return s;
    }
    return ListHashed(txn, dbi, ns, filter, query.include_values, out);
  });
  if (!st.ok()) return st.error();
  std::sort(out.begin(), out.end(),
            [](const KvEntry& a, const KvEntry& b) { return a.key < b.key; });
  if (out.size() > query.limit) out.resize(query.limit);
  return out;
}

Result<size_t> LmdbKvBackend::SweepExpired(int64_t now, size_t batch) {
  size_t removed = 0;
  Status st = env_->Write([&](WriteTxn& txn) -> Status {
    removed = 0;
    std::vector<std::string> expired;
    {
      Result<Cursor> cursor = Cursor::Open(txn, env_->dbi(Db::kKvTtl));
      if (!cursor.ok()) return cursor.error();
      Result<bool> at = cursor->First();
      for (; at.ok() && *at && expired.size() < batch; at = cursor->Next()) {
        if (cursor->value().size() == 8 && DecodeTime(cursor->value()) > now) continue;
        expired.emplace_back(cursor->key());
      }
      if (!at.ok()) return at.error();
    }
    for (const std::string& stored : expired) {
      Result<bool> del = txn.Del(env_->dbi(Db::kKv), stored);
      if (!del.ok()) return del.error();
      Result<bool> dropped = txn.Del(env_->dbi(Db::kKvTtl), stored);
      if (!dropped.ok()) return dropped.error();
      removed += *del ? 1 : 0;
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return removed;
}

}  // namespace threadmill::store
