// store_census.cc - see store_census.h.
#include "store/store_census.h"

#include "store/lmdb_census_backend.h"

namespace threadmill::store {

StoreCensus::StoreCensus(std::shared_ptr<Environment> env) {
  backend_ = env->shared_backends().census;
  local_ = std::make_shared<LmdbCensusBackend>(std::move(env));
  shared_ = backend_ != nullptr;
  if (!backend_) backend_ = local_;
}

}  // namespace threadmill::store
