// lmdb_draft_backend.cc - see lmdb_draft_backend.h.
#include "store/lmdb_draft_backend.h"

#include <nlohmann/json.hpp>

namespace threadmill::store {
namespace {

struct Columns {
  std::string state;
  int64_t updated = 0;
};

// The state and update time of a JSON record; nullopt when it cannot be read.
std::optional<Columns> ColumnsOf(std::string_view record) {
  nlohmann::json j = nlohmann::json::parse(record, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto state = j.find("state");
  const auto updated = j.find("updated");
  Columns c;
  if (state != j.end() && state->is_string()) c.state = state->get<std::string>();
  if (updated != j.end() && updated->is_number_integer()) c.updated = updated->get<int64_t>();
  return c;
}

}  // namespace

Status LmdbDraftBackend::Put(const DraftRow& row) {
  return env_->Write(
      [&](WriteTxn& txn) { return txn.Put(env_->dbi(Db::kDrafts), row.id, row.record); });
}

Result<bool> LmdbDraftBackend::Replace(const DraftRow& row, std::string_view expected_state) {
  bool replaced = false;
  Status st = env_->Write([&](WriteTxn& txn) -> Status {
    replaced = false;
    auto raw = txn.Get(env_->dbi(Db::kDrafts), row.id);
    if (!raw.ok()) return raw.error();
    if (!raw->has_value()) return {};
    std::optional<Columns> c = ColumnsOf(**raw);
    if (!c || c->state != expected_state) return {};
    replaced = true;
    return txn.Put(env_->dbi(Db::kDrafts), row.id, row.record);
  });
  if (!st.ok()) return st.error();
  return replaced;
}

Result<std::optional<std::string>> LmdbDraftBackend::Get(std::string_view id) const {
  std::optional<std::string> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.reset();
    auto raw = txn.Get(env_->dbi(Db::kDrafts), id);
    if (!raw.ok()) return raw.error();
    if (raw->has_value()) out = std::string(**raw);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::vector<std::string>> LmdbDraftBackend::List(size_t limit,
                                                        std::string_view state) const {
  std::vector<std::string> out;
  Status st = env_->Read([&](ReadTxn& txn) -> Status {
    out.clear();
    auto cursor = Cursor::Open(txn, env_->dbi(Db::kDrafts));
    if (!cursor.ok()) return cursor.error();
    for (auto at = cursor->First(); at.ok() && *at && out.size() < limit; at = cursor->Next()) {
      if (!state.empty()) {
        std::optional<Columns> c = ColumnsOf(cursor->value());
        if (!c || c->state != state) continue;
      }
      out.emplace_back(cursor->value());
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<size_t> LmdbDraftBackend::SweepDecided(int64_t before, size_t batch) {
  size_t removed = 0;
  Status st = env_->Write([&](WriteTxn& txn) -> Status {
    removed = 0;
    std::vector<std::string> old;
    {
      auto cursor = Cursor::Open(txn, env_->dbi(Db::kDrafts));
      if (!cursor.ok()) return cursor.error();
      for (auto at = cursor->First(); at.ok() && *at && old.size() < batch; at = cursor->Next()) {
        std::optional<Columns> c = ColumnsOf(cursor->value());
        if (!c || c->state == kDraftPendingState || c->updated >= before) continue;
        old.emplace_back(cursor->key());
      }
    }
    for (const std::string& id : old) {
      auto del = txn.Del(env_->dbi(Db::kDrafts), id);
      if (!del.ok()) return del.error();
      removed += *del ? 1 : 0;
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return removed;
}

}  // namespace threadmill::store
