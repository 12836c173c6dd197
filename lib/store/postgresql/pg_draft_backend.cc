// pg_draft_backend.cc - see pg_draft_backend.h.
#include "store/postgresql/pg_draft_backend.h"

#include <algorithm>
#include <limits>

namespace threadmill::store::pg {
namespace {

const Statement kPut{"tm_draft_put",
                     "INSERT INTO tm_draft (id, handler, state, created, updated, record) "
                     "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
                     "handler = EXCLUDED.handler, state = EXCLUDED.state, "
                     "created = EXCLUDED.created, updated = EXCLUDED.updated, "
                     "record = EXCLUDED.record",
                     {kText, kText, kText, kInt8, kInt8, kBytea}};
// READ COMMITTED: a second host's UPDATE waits for the first's commit, then re-checks the
// state of the new row version and changes nothing.
const Statement kReplace{"tm_draft_replace",
                         "UPDATE tm_draft SET handler = $2, state = $3, created = $4, "
                         "updated = $5, record = $6 WHERE id = $1 AND state = $7",
                         {kText, kText, kText, kInt8, kInt8, kBytea, kText}};
const Statement kGet{"tm_draft_get", "SELECT record FROM tm_draft WHERE id = $1", {kText}};
const Statement kList{"tm_draft_list", "SELECT record FROM tm_draft ORDER BY id LIMIT $1", {kInt8}};
const Statement kListState{"tm_draft_list_state",
                           "SELECT record FROM tm_draft WHERE state = $1 ORDER BY id LIMIT $2",
                           {kText, kInt8}};
// The literal state matches the partial index tm_draft_decided (kDraftPendingState).
const Statement kSweep{"tm_draft_sweep",
                       "DELETE FROM tm_draft WHERE id IN (SELECT id FROM tm_draft "
                       "WHERE state <> 'draft_for_approval' AND updated < $1 "
                       "ORDER BY updated LIMIT $2)",
                       {kInt8, kInt8}};

int64_t Limit(size_t n) {
  return static_cast<int64_t>(std::min<size_t>(n, std::numeric_limits<int64_t>::max()));
}

}  // namespace

Status PgDraftBackend::Put(const DraftRow& row) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(
      kPut, {Param::Bytes(row.id), Param::Bytes(row.handler), Param::Bytes(row.state),
             Param::Int8(row.created), Param::Int8(row.updated), Param::Bytes(row.record)});
  if (!rows.ok()) return rows.error();
  return {};
}

Result<bool> PgDraftBackend::Replace(const DraftRow& row, std::string_view expected_state) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(
      kReplace, {Param::Bytes(row.id), Param::Bytes(row.handler), Param::Bytes(row.state),
                 Param::Int8(row.created), Param::Int8(row.updated), Param::Bytes(row.record),
                 Param::Bytes(expected_state)});
  if (!rows.ok()) return rows.error();
  return rows->Affected() > 0;
}

Result<std::optional<std::string>> PgDraftBackend::Get(std::string_view id) const {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kGet, {Param::Bytes(id)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(rows->Bytes(0, 0)));
}

Result<std::vector<std::string>> PgDraftBackend::List(size_t limit, std::string_view state) const {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = state.empty()
                  ? (*conn)->Run(kList, {Param::Int8(Limit(limit))})
                  : (*conn)->Run(kListState, {Param::Bytes(state), Param::Int8(Limit(limit))});
  if (!rows.ok()) return rows.error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->Bytes(i, 0));
  return out;
}

Result<size_t> PgDraftBackend::SweepDecided(int64_t before, size_t batch) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kSweep, {Param::Int8(before), Param::Int8(Limit(batch))});
  if (!rows.ok()) return rows.error();
  return static_cast<size_t>(rows->Affected());
}

}  // namespace threadmill::store::pg
