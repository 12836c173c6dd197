// pg_counters_backend.cc - see pg_counters_backend.h.
#include "store/postgresql/pg_counters_backend.h"

namespace threadmill::store::pg {
namespace {

const Statement kAdd{"tm_counter_add",
                     "INSERT INTO tm_counter (series, value) VALUES ($1, $2) "
                     "ON CONFLICT (series) DO UPDATE SET value = tm_counter.value + EXCLUDED.value",
                     {kBytea, kInt8}};
const Statement kAll{"tm_counter_all", "SELECT series, value FROM tm_counter ORDER BY series", {}};

}  // namespace

Status PgCountersBackend::Add(std::string_view series, uint64_t n) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kAdd, {Param::Bytes(series), Param::Int8(static_cast<int64_t>(n))});
  if (!rows.ok()) return rows.error();
  return {};
}

Result<std::vector<std::pair<std::string, uint64_t>>> PgCountersBackend::All() const {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kAll, {});
  if (!rows.ok()) return rows.error();
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.emplace_back(std::string(rows->Bytes(i, 0)), static_cast<uint64_t>(rows->Int8(i, 1)));
  }
  return out;
}

}  // namespace threadmill::store::pg
