// census_backend.h - how many records the store holds, as an interface (store::StoreCensus).
//
// DESCRIPTION
//   Entries() counts the records of every table (PostgreSQL) or named database (LMDB) of one
//   backend, for `threadmillctl stats` and the console's stats page. Implementations:
//     LmdbCensusBackend  entries of each named LMDB database (schema.h), this host's
//                        environment (lmdb_census_backend.h)
//     PgCensusBackend    rows of each tm_* table (postgresql/pg_census_backend.h): the totals
//                        of every host sharing the database
//
// THREADING
//   Implementations are thread-safe. Read-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace threadmill::store {

class CensusBackend {
 public:
  virtual ~CensusBackend() = default;
  // "lmdb" or "postgresql".
  virtual std::string_view backend() const = 0;
  // Table or database name -> records, in a fixed order.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> Entries() const = 0;
};

}  // namespace threadmill::store
