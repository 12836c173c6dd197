// lmdb_counters_backend.cc - see lmdb_counters_backend.h.
#include "store/lmdb_counters_backend.h"

#include "store/keys.h"

namespace threadmill::store {
namespace {

constexpr std::string_view kPrefix = "counter:";

}  // namespace

Status LmdbCountersBackend::Add(std::string_view series, uint64_t n) {
  std::string key = std::string(kPrefix) + std::string(series);
  return env_->Write([&](WriteTxn& txn) -> Status {
    MDB_dbi dbi = env_->dbi(Db::kMeta);
    auto current = txn.Get(dbi, key);
    if (!current.ok()) return current.error();
    uint64_t value = current->has_value() ? DecodeU64(**current) : 0;
    return txn.Put(dbi, key, EncodeU64(value + n));
  });
}

Result<std::vector<std::pair<std::string, uint64_t>>> LmdbCountersBackend::All() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  Status read = env_->Read([&](ReadTxn& txn) -> Status {
    MDB_dbi dbi = env_->dbi(Db::kMeta);
    if (dbi == kMissingDbi) return {};
    auto cursor = Cursor::Open(txn, dbi);
    if (!cursor.ok()) return cursor.error();
    auto found = cursor->SeekRange(kPrefix);
    while (found.ok() && *found) {
      std::string_view key = cursor->key();
      if (key.substr(0, kPrefix.size()) != kPrefix) break;
      out.emplace_back(std::string(key.substr(kPrefix.size())), DecodeU64(cursor->value()));
      found = cursor->Next();
    }
    if (!found.ok()) return found.error();
    return {};
  });
  if (!read.ok()) return read.error();
  return out;
}

}  // namespace threadmill::store
