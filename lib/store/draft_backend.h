// draft_backend.h - reply drafts' storage as an interface (runtime::DraftStore's backend).
//
// DESCRIPTION
//   runtime::DraftStore (lib/runtime/drafts.h) keeps the drafts' logic and their JSON
//   encoding; a DraftBackend stores rows: id -> record (the JSON) with the columns DraftStore
//   looks drafts up by (state, handler, created, updated), which must agree with the record.
//   Implementations:
//     LmdbDraftBackend  the `drafts` LMDB database, id -> JSON (lmdb_draft_backend.h): state
//                       and updated are read back from the JSON's "state" and "updated"
//     PgDraftBackend    the tm_draft table (postgresql/pg_draft_backend.h), shared by hosts
//
// THREADING
//   Implementations are thread-safe; each call is its own transaction.
//
// LIMITS
//   Ids are 1..128 bytes of ASCII; listing is in id byte order (DraftStore's ids are ordered
//   by creation). A record that cannot be read is skipped by List with a state and by
//   SweepDecided; List without a state returns it (DraftStore skips what it cannot decode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::store {

// The state of a draft awaiting approval; every other state is a decision.
inline constexpr std::string_view kDraftPendingState = "draft_for_approval";

struct DraftRow {
  std::string id;
  std::string handler;
  std::string state;
  int64_t created = 0;
  int64_t updated = 0;
  std::string record;  // DraftStore's JSON
};

class DraftBackend {
 public:
  virtual ~DraftBackend() = default;
  // Creates or replaces the row `row.id`.
  virtual Status Put(const DraftRow& row) = 0;
  // Replaces the row `row.id` only while it is in `expected_state` (a compare-and-set: two
  // hosts deciding one draft at once, one wins); false when it is absent or in another state.
  virtual Result<bool> Replace(const DraftRow& row, std::string_view expected_state) = 0;
  // The record of `id`, or nullopt.
  virtual Result<std::optional<std::string>> Get(std::string_view id) const = 0;
  // Up to `limit` records in id order; only those in `state` when non-empty.
  virtual Result<std::vector<std::string>> List(size_t limit, std::string_view state) const = 0;
  // Removes up to `batch` decided drafts (state other than kDraftPendingState) updated before
  // `before`; returns how many.
  virtual Result<size_t> SweepDecided(int64_t before, size_t batch) = 0;
};

}  // namespace threadmill::store
