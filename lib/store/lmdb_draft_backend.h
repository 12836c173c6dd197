// lmdb_draft_backend.h - drafts in the `drafts` LMDB database: id -> JSON record (the layout
// threadmill always had; no index: listing and sweeping read every draft).
//
// DESCRIPTION
//   The row's columns are not stored apart: List with a state and SweepDecided read "state"
//   and "updated" from each JSON record.
//
// THREADING
//   Thread-safe; never call from inside Environment::Read/Write callbacks.
#pragma once

#include <memory>

#include "store/draft_backend.h"
#include "store/environment.h"

namespace threadmill::store {

class LmdbDraftBackend final : public DraftBackend {
 public:
  explicit LmdbDraftBackend(std::shared_ptr<Environment> env) : env_(std::move(env)) {}
  Status Put(const DraftRow& row) override;
  Result<bool> Replace(const DraftRow& row, std::string_view expected_state) override;
  Result<std::optional<std::string>> Get(std::string_view id) const override;
  Result<std::vector<std::string>> List(size_t limit, std::string_view state) const override;
  Result<size_t> SweepDecided(int64_t before, size_t batch) override;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
