// pg_census_backend.cc - see pg_census_backend.h.
#include "store/postgresql/pg_census_backend.h"

namespace threadmill::store::pg {
namespace {

// In the order the output lists them (thread mappings, ledger, jobs, handler data).
const Statement kCount{"tm_census",
                       "SELECT 'tm_message'::text, count(*) FROM tm_message "
                       "UNION ALL SELECT 'tm_thread', count(*) FROM tm_thread "
                       "UNION ALL SELECT 'tm_thread_index', count(*) FROM tm_thread_index "
                       "UNION ALL SELECT 'tm_replied_once', count(*) FROM tm_replied_once "
                       "UNION ALL SELECT 'tm_ledger', count(*) FROM tm_ledger "
                       "UNION ALL SELECT 'tm_job', count(*) FROM tm_job "
                       "UNION ALL SELECT 'tm_job_message', count(*) FROM tm_job_message "
                       "UNION ALL SELECT 'tm_kv', count(*) FROM tm_kv "
                       "UNION ALL SELECT 'tm_counter', count(*) FROM tm_counter "
                       "UNION ALL SELECT 'tm_draft', count(*) FROM tm_draft "
                       "UNION ALL SELECT 'tm_sweep_lease', count(*) FROM tm_sweep_lease",
                       {}};

}  // namespace

Result<std::vector<std::pair<std::string, uint64_t>>> PgCensusBackend::Entries() const {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kCount, {});
  if (!rows.ok()) return rows.error();
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.emplace_back(std::string(rows->Bytes(i, 0)), static_cast<uint64_t>(rows->Int8(i, 1)));
  }
  return out;
}

}  // namespace threadmill::store::pg
