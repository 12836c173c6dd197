// drafts.cc - see drafts.h.
#include "runtime/drafts.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "log/kv_line.h"
#include "log/logger.h"
#include "mail/charset.h"
#include "store/lmdb_draft_backend.h"
#include "store/thread_store.h"

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
            {"edited", d.edited},
            {"decision", d.decision},
            {"inbound",
             {{"from", d.inbound_from},
              {"spf", d.inbound_spf},
              {"dkim", d.inbound_dkim},
              {"text", d.inbound_text},
              {"text_from_html", d.inbound_text_from_html}}},
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
              {"list", f.list_headers},
              {"auto_response", f.auto_response}}}};
  json history = json::array();
  for (const DraftEvent& e : d.history) {
    history.push_back({{"action", e.action}, {"by", e.by}, {"at", e.at}, {"note", e.note}});
  }
  j["history"] = std::move(history);
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
    d.edited = j.value("edited", false);
    d.decision = j.value("decision", "");
    if (j.contains("history") && j["history"].is_array()) {
      for (const json& e : j["history"]) {
        d.history.push_back({e.value("action", ""), e.value("by", ""), e.value("at", int64_t{0}),
                             e.value("note", "")});
      }
    }
    if (j.contains("inbound") && j["inbound"].is_object()) {
      const json& in = j["inbound"];
      d.inbound_from = in.value("from", "");
      d.inbound_spf = in.value("spf", "");
      d.inbound_dkim = in.value("dkim", "");
      d.inbound_text = in.value("text", "");
      d.inbound_text_from_html = in.value("text_from_html", false);
    }
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
    d.facts.auto_response = f.value("auto_response", "");
    return d;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kStore, std::string("drafts: corrupt record: ") + e.what());
  }
}

}  // namespace

static std::shared_ptr<store::DraftBackend> BackendOf(std::shared_ptr<store::Environment> env) {
  if (auto shared = env->shared_backends().drafts) return shared;
  return std::make_shared<store::LmdbDraftBackend>(std::move(env));
}

DraftStore::DraftStore(std::shared_ptr<store::Environment> env)
    : backend_(BackendOf(std::move(env))) {}

DraftStore::DraftStore(std::shared_ptr<store::DraftBackend> backend)
    : backend_(std::move(backend)) {}

Status DraftStore::Put(const Draft& draft) {
  store::DraftRow row;
  row.id = draft.id;
  row.handler = draft.handler;
  row.state = draft.state;
  row.created = draft.created;
  row.updated = draft.updated;
  row.record = Encode(draft);
  return backend_->Put(row);
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
  if (id.empty() || id.size() > 128) return std::optional<Draft>();
  auto raw = backend_->Get(id);
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return std::optional<Draft>();
  auto d = Decode(**raw);
  if (!d.ok()) return d.error();
  return std::optional<Draft>(std::move(*d));
}

Result<std::vector<Draft>> DraftStore::List(size_t limit, std::string_view state) const {
  auto raw = backend_->List(limit, state);
  if (!raw.ok()) return raw.error();
  std::vector<Draft> out;
  for (const std::string& record : *raw) {
    auto d = Decode(record);
    if (!d.ok()) continue;
    if (!state.empty() && d->state != state) continue;
    out.push_back(std::move(*d));
  }
  return out;
}

Result<Draft> DraftStore::Pending(std::string_view id) const {
  auto found = Get(id);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return MakeError(ErrorCode::kNotFound, "draft " + std::string(id) + " not found");
  }
  Draft d = std::move(**found);
  if (d.state != "draft_for_approval") {
    return MakeError(ErrorCode::kInvalidInput, "draft " + d.id + " is " + d.state);
  }
  return d;
}

void DraftStore::Record(Draft& d, std::string action, std::string_view by,
                        std::string_view note) const {
  d.updated = Now();
  if (action != "edited")
    d.decision = action == "approved" && d.edited ? "edited+approved" : action;
  d.history.push_back({action, std::string(by), d.updated, std::string(note)});
}

void DraftStore::Log(const Draft& d) {
  const DraftEvent* e = d.last_event();
  if (!e) return;
  log::KvLine line;
  line.Add("draft", d.id)
      .Add("handler", d.handler)
      .Add("action", e->action == "edited" ? e->action : d.decision)
      .Add("by", e->by)
      .Add("note", e->note)
      .AddBracketed("reply", d.reply_id, false)
      .Add("thread", d.facts.thread_id);
  log::Get().info("{}", line.str());
}

Result<bool> DraftStore::ReplacePending(const Draft& d) {
  store::DraftRow row;
  row.id = d.id;
  row.handler = d.handler;
  row.state = d.state;
  row.created = d.created;
  row.updated = d.updated;
  row.record = Encode(d);
  auto replaced = backend_->Replace(row, store::kDraftPendingState);
  if (!replaced.ok()) return replaced.error();
  if (*replaced) Log(d);
  return replaced;
}

// A draft a decision found pending but someone (another host) decided meanwhile.
static Error DecidedMeanwhile(const Draft& d) {
  return MakeError(ErrorCode::kInvalidInput, "draft " + d.id + " was decided meanwhile");
}

Result<std::string> DraftStore::Approve(std::string_view id, reply::Replier& replier,
                                        std::string_view by, std::string_view note) {
  auto pending = Pending(id);
  if (!pending.ok()) return pending.error();
  Draft d = std::move(*pending);
  // A person approved it: the reply is sent by a person (RFC 3834 section 5, "no").
  reply::ReplyContent content = d.content;
  content.auto_submitted = "no";
  auto sent = replier.Reply(d.facts, {d.handler, d.job_id, d.queue_id}, content);
  d.updated = Now();
  if (!sent.ok()) {
    d.last_error = sent.error().message;
    (void)Put(d);
    return sent.error();
  }
  d.state = "sent";
  d.reply_id = *sent;
  d.last_error.clear();
  Record(d, "approved", by, note);
  // The reply went out: "sent" is recorded even if another host decided meanwhile.
  if (Status st = Put(d); !st.ok()) return st.error();
  Log(d);
  return *sent;
}

Status DraftStore::Reject(std::string_view id, std::string_view by, std::string_view note) {
  auto pending = Pending(id);
  if (!pending.ok()) return pending.error();
  Draft d = std::move(*pending);
  d.state = "rejected";
  Record(d, "rejected", by, note);
  auto replaced = ReplacePending(d);
  if (!replaced.ok()) return replaced.error();
  if (!*replaced) return DecidedMeanwhile(d);
  return {};
}

Status DraftStore::Edit(std::string_view id, std::string_view text, std::string_view by,
                        std::string_view note) {
  if (text.empty() || text.size() > kMaxDraftTextBytes || !mail::IsValidUtf8(text) ||
      text.find('\0') != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidInput, "draft text must be 1.." +
                                                   std::to_string(kMaxDraftTextBytes) +
                                                   " bytes of UTF-8 without NUL");
  }
  auto pending = Pending(id);
  if (!pending.ok()) return pending.error();
  Draft d = std::move(*pending);
  d.content.text = std::string(text);
  d.content.html.clear();
  d.edited = true;
  Record(d, "edited", by, note);
  auto replaced = ReplacePending(d);
  if (!replaced.ok()) return replaced.error();
  if (!*replaced) return DecidedMeanwhile(d);
  return {};
}

Result<std::vector<Draft>> DraftStore::ExpireDue(
    int64_t now, const std::function<int64_t(const std::string&)>& expiry, size_t batch) {
  auto awaiting = List(100000, "draft_for_approval");
  if (!awaiting.ok()) return awaiting.error();
  std::vector<Draft> expired;
  for (Draft& d : *awaiting) {
    if (expired.size() >= batch) break;
    const int64_t seconds = expiry(d.handler);
    if (seconds <= 0 || d.created > now - seconds) continue;
    auto pending = Pending(d.id);  // decided meanwhile: leave it
    if (!pending.ok()) continue;
    Draft e = std::move(*pending);
    e.state = "expired";
    Record(e, "expired", "", "");
    auto replaced = ReplacePending(e);  // another host expired or decided it: not ours
    if (!replaced.ok()) return replaced.error();
    if (*replaced) expired.push_back(std::move(e));
  }
  return expired;
}

Result<size_t> DraftStore::SweepDecided(int64_t before, size_t batch) {
  return backend_->SweepDecided(before, batch);
}

std::unique_ptr<DraftDecisionCall> MakeDecision(Draft draft) {
  auto call = std::make_unique<DraftDecisionCall>();
  call->draft = std::move(draft);
  const Draft& d = call->draft;
  call->message_id = d.reply_id.empty() ? "" : "<" + d.reply_id + ">";
  const DraftEvent* last = d.last_event();
  threadmill_draft_decision& out = call->decision;
  out.struct_size = sizeof out;
  out.draft_id = d.id.c_str();
  out.decision = d.decision.c_str();
  out.note = last ? last->note.c_str() : "";
  out.message_id = call->message_id.c_str();
  out.thread_id = d.facts.thread_id.c_str();
  out.text = d.content.text.c_str();
  out.decided_by = last ? last->by.c_str() : "";
  out.decided_time = last ? last->at : d.updated;
  return call;
}

Result<std::string> EnqueueDecision(JobQueue& queue, const Draft& draft) {
  JobInput in;
  in.handler = draft.handler;
  in.route = kDraftDecisionJob;
  in.kind = kDraftDecisionJob;
  in.draft_id = draft.id;
  in.recipient = draft.facts.recipient;
  in.mail_from = draft.facts.envelope_sender;
  in.thread_id = draft.facts.thread_id;
  in.message_id = draft.facts.message_id;
  return queue.Enqueue(in);
}

std::string CurrentUnixUser() {
  const uid_t uid = getuid();
  if (uid == 0) {  // root through sudo: the person, not root
    const char* sudo_user = std::getenv("SUDO_USER");
    if (sudo_user && *sudo_user) return sudo_user;
  }
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name) {
    return found->pw_name;
  }
  return "uid:" + std::to_string(uid);
}

}  // namespace threadmill::runtime
