#include "runtime/drafts.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "store/thread_store.h"
#include "store/txn.h"

namespace threadmill::runtime {
namespace {

using nlohmann::json;

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Encode(const Draft& d) {
  const auto& f = d.facts;
  json j = {{"v", 1},
            {"id", d.id},
            {"handler", d.handler},
            {"state", d.state},
            {"created", d.created},
            {"updated", d.updated},
            {"job", d.job_id},
            {"queue_id", d.queue_id},
            {"reply", d.reply_id},
            {"last_error", d.last_error},
            {"text", d.content.text},
            {"html", d.content.html},
            {"from_name", d.content.from_name},
            {"facts",
             {{"msgid", f.message_id},
              {"references", f.references},
              {"refs", f.references_count},
              {"subject", f.subject},
              {"sender", f.envelope_sender},
              {"from", f.from_address},
              {"recipient", f.recipient},
              {"thread", f.thread_id},
              {"dmarc", f.dmarc},
              {"sender_auth", f.sender_authenticated},
              {"arc_override", f.dmarc_arc_override},
              {"auto_submitted", f.auto_submitted},
              {"precedence", f.precedence},
              {"list", f.list_headers}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Draft> Decode(std::string_view text) {
  try {
    json j = json::parse(text);
    Draft d;
    d.id = j.value("id", "");
    d.handler = j.value("handler", "");
    d.state = j.value("state", "");
    d.created = j.value("created", int64_t{0});
    d.updated = j.value("updated", int64_t{0});
    d.job_id = j.value("job", "");
    d.queue_id = j.value("queue_id", "");
    d.reply_id = j.value("reply", "");
    d.last_error = j.value("last_error", "");
    d.content.text = j.value("text", "");
    d.content.html = j.value("html", "");
    d.content.from_name = j.value("from_name", "");
    const json& f = j.at("facts");
    d.facts.message_id = f.value("msgid", "");
    d.facts.references = f.value("references", std::vector<std::string>{});
    d.facts.references_count = f.value("refs", size_t{0});
    d.facts.subject = f.value("subject", "");
    d.facts.envelope_sender = f.value("sender", "");
    d.facts.from_address = f.value("from", "");
    d.facts.recipient = f.value("recipient", "");
    d.facts.thread_id = f.value("thread", "");
    d.facts.dmarc = f.value("dmarc", "none");
    d.facts.sender_authenticated = f.value("sender_auth", false);
    d.facts.dmarc_arc_override = f.value("arc_override", false);
    d.facts.auto_submitted = f.value("auto_submitted", "");
    d.facts.precedence = f.value("precedence", "");
    d.facts.list_headers = f.value("list", false);
    return d;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kStore, std::string("drafts: corrupt record: ") + e.what());
  }
}

}  // namespace

DraftStore::DraftStore(std::shared_ptr<store::Environment> env) : env_(std::move(env)) {}

Status DraftStore::Put(const Draft& draft) {
  std::string value = Encode(draft);
  return env_->Write([&](store::WriteTxn& txn) {
    return txn.Put(env_->dbi(store::Db::kDrafts), draft.id, value);
  });
}

Result<std::string> DraftStore::Create(Draft draft) {
  draft.id = store::ThreadStore::NewThreadId();
  draft.id[0] = 'D';
  draft.state = "draft_for_approval";
  draft.created = draft.updated = Now();
  if (Status st = Put(draft); !st.ok()) return st.error();
  return draft.id;
}

Result<std::optional<Draft>> DraftStore::Get(std::string_view id) const {
  std::optional<Draft> out;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    out.reset();
    if (id.empty() || id.size() > 128) return {};
    auto raw = txn.Get(env_->dbi(store::Db::kDrafts), id);
    if (!raw.ok()) return raw.error();
    if (!raw->has_value()) return {};
    auto d = Decode(**raw);
    if (!d.ok()) return d.error();
    out = std::move(*d);
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::vector<Draft>> DraftStore::List(size_t limit, std::string_view state) const {
  std::vector<Draft> out;
  Status st = env_->Read([&](store::ReadTxn& txn) -> Status {
    out.clear();
    auto cursor = store::Cursor::Open(txn, env_->dbi(store::Db::kDrafts));
    if (!cursor.ok()) return cursor.error();
    for (auto at = cursor->First(); at.ok() && *at && out.size() < limit; at = cursor->Next()) {
      auto d = Decode(cursor->value());
      if (!d.ok()) continue;
      if (!state.empty() && d->state != state) continue;
      out.push_back(std::move(*d));
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::string> DraftStore::Approve(std::string_view id, reply::Replier& replier) {
  auto found = Get(id);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return MakeError(ErrorCode::kNotFound, "draft " + std::string(id) + " not found");
  }
  Draft d = std::move(**found);
  if (d.state != "draft_for_approval") {
    return MakeError(ErrorCode::kInvalidInput, "draft " + d.id + " is " + d.state);
  }
  auto sent = replier.Reply(d.facts, {d.handler, d.job_id, d.queue_id}, d.content);
  d.updated = Now();
  if (!sent.ok()) {
    d.last_error = sent.error().message;
    (void)Put(d);
    return sent.error();
  }
  d.state = "sent";
  d.reply_id = *sent;
  d.last_error.clear();
  if (Status st = Put(d); !st.ok()) return st.error();
  return *sent;
}

Status DraftStore::Reject(std::string_view id) {
  auto found = Get(id);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return MakeError(ErrorCode::kNotFound, "draft " + std::string(id) + " not found");
  }
  Draft d = std::move(**found);
  if (d.state != "draft_for_approval") {
    return MakeError(ErrorCode::kInvalidInput, "draft " + d.id + " is " + d.state);
  }
  d.state = "rejected";
  d.updated = Now();
  return Put(d);
}

}  // namespace threadmill::runtime
