// lmdb_ledger_backend.cc - see lmdb_ledger_backend.h.
#include "store/lmdb_ledger_backend.h"

#include <utility>

#include "store/keys.h"

namespace threadmill::store {
namespace {

class LmdbLedgerTxn final : public LedgerTxn {
 public:
  LmdbLedgerTxn(const Txn& txn, WriteTxn* write, MDB_dbi dbi)
      : txn_(txn), write_(write), dbi_(dbi) {}

  Result<std::optional<std::string>> Get(std::string_view ns, std::string_view key) const override {
    Result<std::optional<KeyedHit>> hit = KeyedFind(txn_, dbi_, ns, key);
    if (!hit.ok()) return hit.error();
    if (!hit->has_value()) return std::optional<std::string>();
    return std::optional<std::string>(std::string((*hit)->payload));
  }

  Status Put(std::string_view ns, std::string_view key, std::string_view value) override {
    if (write_ == nullptr) return ReadOnly();
    Result<std::string> put = KeyedPut(*write_, dbi_, ns, key, value);
    if (!put.ok()) return put.error();
    return {};
  }

  Result<bool> Del(std::string_view ns, std::string_view key) override {
    if (write_ == nullptr) return ReadOnly();
    return KeyedDelete(*write_, dbi_, ns, key);
  }

  Status Scan(std::string_view ns,
              const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    Result<Cursor> cursor = Cursor::Open(txn_, dbi_);
    if (!cursor.ok()) return cursor.error();
    Result<bool> at = cursor->SeekRange(ns);
    for (; at.ok() && *at; at = cursor->Next()) {
      std::string_view key = cursor->key();
      if (key.substr(0, ns.size()) != ns) break;
      Result<KeyedEntry> entry = DecodeKeyedEntry(key.substr(ns.size()), cursor->value());
      if (!entry.ok()) continue;
      if (!visit(entry->key, entry->payload)) break;
    }
    if (!at.ok()) return at.error();
    return {};
  }

 private:
  static Error ReadOnly() {
    return MakeError(ErrorCode::kInternal, "replied: write in a read transaction");
  }
  const Txn& txn_;
  WriteTxn* write_;
  MDB_dbi dbi_;
};

}  // namespace

LmdbLedgerBackend::LmdbLedgerBackend(std::shared_ptr<Environment> env) : env_(std::move(env)) {}

Status LmdbLedgerBackend::Read(const std::function<Status(LedgerTxn&)>& fn) const {
  return env_->Read([&](ReadTxn& txn) -> Status {
    LmdbLedgerTxn ledger(txn, nullptr, env_->dbi(Db::kReplied));
    return fn(ledger);
  });
}

Status LmdbLedgerBackend::Write(const std::function<Status(LedgerTxn&)>& fn) {
  return env_->Write([&](WriteTxn& txn) -> Status {
    LmdbLedgerTxn ledger(txn, &txn, env_->dbi(Db::kReplied));
    return fn(ledger);
  });
}

}  // namespace threadmill::store
