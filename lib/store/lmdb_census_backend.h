// lmdb_census_backend.h - the entries of each named LMDB database (schema.h) of one
// environment (census_backend.h), counted by mdb_stat in one read transaction.
//
// THREADING
//   Thread-safe; never call from inside Environment::Read/Write callbacks.
//
// LIMITS
//   A database absent from a read-only environment counts 0.
#pragma once

#include <memory>

#include "store/census_backend.h"
#include "store/environment.h"

namespace threadmill::store {

class LmdbCensusBackend final : public CensusBackend {
 public:
  explicit LmdbCensusBackend(std::shared_ptr<Environment> env) : env_(std::move(env)) {}
  std::string_view backend() const override { return "lmdb"; }
  Result<std::vector<std::pair<std::string, uint64_t>>> Entries() const override;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
