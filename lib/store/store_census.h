// store_census.h - how many records the store holds, from whichever backend keeps them.
//
// DESCRIPTION
//   StoreCensus(env) asks the environment's attached census backend (environment.h SHARED
//   BACKENDS: with [store] backend = "postgresql" the rows of the shared tables, the totals of
//   every host), else the environment's own LMDB databases. LocalEntries() always counts the
//   local LMDB environment (with PostgreSQL: the fallback job spool of this host).
//
// THREADING
//   Thread-safe. Read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/census_backend.h"
#include "store/environment.h"

namespace threadmill::store {

class StoreCensus {
 public:
  explicit StoreCensus(std::shared_ptr<Environment> env);

  // "lmdb" or "postgresql".
  std::string_view backend() const { return backend_->backend(); }
  // True when Entries() counts data several hosts share (not this environment).
  bool shared() const { return shared_; }
  // Table or database -> records (census_backend.h).
  Result<std::vector<std::pair<std::string, uint64_t>>> Entries() const {
    return backend_->Entries();
  }
  // The local LMDB environment's databases -> entries, whatever the backend.
  Result<std::vector<std::pair<std::string, uint64_t>>> LocalEntries() const {
    return local_->Entries();
  }

 private:
  std::shared_ptr<CensusBackend> local_;
  std::shared_ptr<CensusBackend> backend_;
  bool shared_ = false;
};

}  // namespace threadmill::store
