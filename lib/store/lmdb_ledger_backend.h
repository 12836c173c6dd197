// lmdb_ledger_backend.h - the reply ledger's entries in the `replied` LMDB database.
//
// DESCRIPTION
//   Stored key = ns + StoreKey(key) (keys.h: long keys hashed, the full key kept in the
//   value), value = the entry. The layout is the one threadmill always had: existing
//   environments read unchanged. LMDB has one writer at a time, so write transactions are
//   serializable by construction.
//
// THREADING
//   Thread-safe; never call from inside Environment::Read/Write callbacks.
//
// LIMITS
//   One host (a local file). Scan copies nothing: the views are valid during the visit only.
#pragma once

#include <memory>

#include "store/environment.h"
#include "store/ledger_backend.h"

namespace threadmill::store {

class LmdbLedgerBackend final : public LedgerBackend {
 public:
  explicit LmdbLedgerBackend(std::shared_ptr<Environment> env);
  Status Read(const std::function<Status(LedgerTxn&)>& fn) const override;
  Status Write(const std::function<Status(LedgerTxn&)>& fn) override;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
