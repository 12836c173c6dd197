// counters.cc - see counters.h.
#include "store/counters.h"

#include "store/lmdb_counters_backend.h"

namespace threadmill::store {

Counters::Counters(std::shared_ptr<Environment> env) {
  backend_ = env->shared_backends().counters;
  if (!backend_) backend_ = std::make_shared<LmdbCountersBackend>(std::move(env));
}

}  // namespace threadmill::store
