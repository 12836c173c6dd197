// lmdb_counters_backend.h - counters as "counter:<series>" -> 8-byte total in the `meta`
// LMDB database (the layout threadmill always had).
//
// THREADING
//   Thread- and process-safe (one short write transaction per Add); never call from inside
//   Environment::Read/Write callbacks.
#pragma once

#include <memory>

#include "store/counters_backend.h"
#include "store/environment.h"

namespace threadmill::store {

class LmdbCountersBackend final : public CountersBackend {
 public:
  explicit LmdbCountersBackend(std::shared_ptr<Environment> env) : env_(std::move(env)) {}
  Status Add(std::string_view series, uint64_t n) override;
  Result<std::vector<std::pair<std::string, uint64_t>>> All() const override;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
