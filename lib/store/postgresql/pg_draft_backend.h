// pg_draft_backend.h - reply drafts in PostgreSQL (tm_draft, pg_schema.h), shared by every
// host: a draft created by a handler on one MX host is listed, edited and approved from any
// (threadmillctl drafts, the web console).
//
// DESCRIPTION
//   One statement per call. tm_draft(id, handler, state, created, updated, record): id is
//   the primary key (text COLLATE "C": byte order = creation order); (state, id) serves List
//   by state, a partial index on updated of decided drafts serves SweepDecided, (handler, id)
//   a handler's drafts. The record is DraftStore's JSON, the same bytes LMDB stores.
//
// THREADING
//   Thread-safe: every call takes its own pooled connection.
//
// LIMITS
//   Two hosts deciding one draft at the same moment: Replace (a conditional UPDATE) lets one
//   reject, edit or expire it; approvals send first (the reply ledger sends it at most once)
//   and then record "sent" whatever happened meanwhile, since the reply went out.
#pragma once

#include <memory>

#include "store/draft_backend.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

class PgDraftBackend final : public DraftBackend {
 public:
  explicit PgDraftBackend(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  Status Put(const DraftRow& row) override;
  Result<bool> Replace(const DraftRow& row, std::string_view expected_state) override;
  Result<std::optional<std::string>> Get(std::string_view id) const override;
  Result<std::vector<std::string>> List(size_t limit, std::string_view state) const override;
  Result<size_t> SweepDecided(int64_t before, size_t batch) override;

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace threadmill::store::pg
