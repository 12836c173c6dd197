// counters_backend.h - durable event counters' storage as an interface (store::Counters).
//
// DESCRIPTION
//   A counter is a Prometheus series name (as written in the text format) -> a total.
//   Implementations:
//     LmdbCountersBackend  "counter:" entries in the `meta` LMDB database (lmdb_counters_backend.h)
//     PgCountersBackend    the tm_counter table (postgresql/pg_counters_backend.h): one total
//                          for every host sharing the database
//
// THREADING
//   Implementations are thread- and process-safe; Add is one atomic increment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace threadmill::store {

class CountersBackend {
 public:
  virtual ~CountersBackend() = default;
  virtual Status Add(std::string_view series, uint64_t n) = 0;
  // Every counter, ordered by series name bytes.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> All() const = 0;
};

}  // namespace threadmill::store
