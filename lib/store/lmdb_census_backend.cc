// lmdb_census_backend.cc - see lmdb_census_backend.h.
#include "store/lmdb_census_backend.h"

#include <lmdb.h>

#include "store/schema.h"

namespace threadmill::store {

Result<std::vector<std::pair<std::string, uint64_t>>> LmdbCensusBackend::Entries() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  Status read = env_->Read([&](ReadTxn& txn) -> Status {
    out.clear();
    for (const auto& spec : kDatabases) {
      MDB_dbi dbi = env_->dbi(spec.db);
      MDB_stat stat{};
      if (dbi == kMissingDbi || mdb_stat(txn.raw(), dbi, &stat) != MDB_SUCCESS) {
        out.emplace_back(spec.name, 0);
        continue;
      }
      out.emplace_back(spec.name, stat.ms_entries);
    }
    return {};
  });
  if (!read.ok()) return read.error();
  return out;
}

}  // namespace threadmill::store
