// console_pages.cc - the console's GET pages: drafts, one draft, threads, a thread, jobs, a
// handler's records, stats. Every string from mail or the store goes through DisplayText.
#include <algorithm>
#include <set>

#include "admin/store_stats.h"
#include "admin/thread_search.h"
#include "store/kv_store.h"
#include "store/thread_store.h"
#include "web/console.h"
#include "web/display_text.h"

namespace threadmill::web {
namespace {

constexpr size_t kListLimit = 500;

std::string T(std::string_view s) { return DisplayText(s, false, 4096); }

std::string Bracketed(std::string_view id) {
  return id.empty() ? std::string() : "<" + std::string(id) + ">";
}

// Sets `key` only when `value` is not empty: mustache sections treat "" as true.
void SetIf(View& view, const std::string& key, const std::string& value) {
  if (!value.empty()) view.set(key, value);
}

std::string UrlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

const char* DraftStateLabel(std::string_view state) {
  if (state == "draft_for_approval") return "awaiting approval";
  return nullptr;
}

}  // namespace

void Console::GetDrafts(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  // No state: those awaiting approval; "state=" or "state=all": every draft.
  std::string state = req.has_param("state") ? req.get_param_value("state") : "draft_for_approval";
  if (state.empty()) state = "all";
  const std::string handler = req.get_param_value("handler");
  static const std::vector<std::string> kStates = {"draft_for_approval", "sent", "rejected",
                                                   "expired", "all"};
  if (std::find(kStates.begin(), kStates.end(), state) == kStates.end()) {
    state = "draft_for_approval";
  }
  runtime::DraftStore drafts(env_);
  auto list = drafts.List(100000, state == "all" ? "" : state);
  if (!list.ok()) return Error(res, 500, list.error().message, &*who);
  View view;
  View states = List();
  for (const auto& s : kStates) {
    View item;
    item.set("value", s);
    const char* label = DraftStateLabel(s);
    item.set("label", label ? label : s);
    item.set("on", s == state);
    states.push_back(item);
  }
  view.set("states", states);
  view.set("state", state);
  if (!handler.empty()) view.set("handler", T(handler));
  std::set<std::string> handlers;
  View rows = List();
  size_t shown = 0;
  for (auto it = list->rbegin(); it != list->rend(); ++it) {  // newest first
    const runtime::Draft& d = *it;
    if (!who->account.SeesHandler(d.handler)) continue;
    handlers.insert(d.handler);
    if (!handler.empty() && d.handler != handler) continue;
    if (++shown > kListLimit) break;
    View row;
    row.set("id", T(d.id));
    row.set("created", FormatTime(d.created));
    row.set("subject", d.facts.subject.empty() ? "(no subject)" : T(d.facts.subject));
    row.set("to", T(d.facts.envelope_sender));
    row.set("handler", T(d.handler));
    const char* label = DraftStateLabel(d.state);
    row.set("state", label ? label : T(d.state));
    rows.push_back(row);
  }
  View handler_list = List();
  for (const auto& h : handlers) {
    View item;
    item.set("name", T(h));
    item.set("on", h == handler);
    handler_list.push_back(item);
  }
  view.set("handlers", handler_list);
  view.set("has_handlers", handlers.size() > 1 || !handler.empty());
  view.set("drafts", rows);
  Frame frame;
  frame.title = "Drafts";
  frame.page = "drafts";
  Page(res, "drafts.mustache", view, frame, &*who);
}

void Console::GetDraft(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  const std::string id = req.matches[1];
  runtime::DraftStore drafts(env_);
  auto found = drafts.Get(id);
  if (!found.ok()) return Error(res, 500, found.error().message, &*who);
  if (!found->has_value() || !who->account.SeesHandler((*found)->handler)) {
    return Error(res, 404, "No draft " + id + ".", &*who);
  }
  const runtime::Draft& d = **found;
  View view;
  view.set("id", T(d.id));
  view.set("handler", T(d.handler));
  const char* state_label = DraftStateLabel(d.state);
  view.set("state", state_label ? state_label : T(d.state));
  SetIf(view, "decision", T(d.decision));
  view.set("created", FormatTime(d.created));
  view.set("updated", FormatTime(d.updated));
  SetIf(view, "reply", T(Bracketed(d.reply_id)));
  SetIf(view, "last_error", T(d.last_error));
  std::string sender = d.facts.envelope_sender.empty() ? "<>" : d.facts.envelope_sender;
  if (!d.inbound_from.empty()) sender = d.inbound_from + " (envelope " + sender + ")";
  view.set("sender", T(sender));
  view.set("recipient", T(d.facts.recipient));
  view.set("subject", T(d.facts.subject));
  view.set("message_id", T(Bracketed(d.facts.message_id)));
  std::string spf = d.inbound_spf, dkim = d.inbound_dkim;
  if (spf.empty() && !d.job_id.empty()) {  // drafts stored before the inbound snapshot
    runtime::JobQueue queue(env_, actions_.runtime_config().spool_dir());
    if (auto job = queue.Get(d.job_id); job.ok() && job->has_value()) {
      spf = (*job)->spf;
      dkim = (*job)->dkim;
    }
  }
  std::string verdicts = "dmarc=" + d.facts.dmarc;
  if (!spf.empty()) verdicts += " spf=" + spf;
  if (!dkim.empty()) verdicts += " dkim=" + dkim;
  if (d.facts.dmarc_arc_override) verdicts += " (arc override)";
  view.set("dmarc", T(verdicts.substr(6)));
  SetIf(view, "thread", T(d.facts.thread_id));
  SetIf(view, "inbound_text", DisplayText(d.inbound_text, true));
  view.set("inbound_note", d.inbound_text_from_html
                               ? "(HTML message shown as text)"
                               : "The message text was not kept with this draft.");
  if (d.inbound_text_from_html && !d.inbound_text.empty()) {
    view.set("inbound_text", "[HTML message, shown as text]\n" + DisplayText(d.inbound_text, true));
  }
  view.set("text", DisplayText(d.content.text, true));
  view.set("has_html", !d.content.html.empty());
  bool can_act = who->account.CanAct() && d.state == "draft_for_approval";
  view.set("can_act", can_act);
  view.set("csrf", who->session.csrf);
  View history = List();
  for (const auto& e : d.history) {
    View row;
    row.set("at", FormatTime(e.at));
    row.set("action", T(e.action));
    row.set("by", T(e.by));
    row.set("note", T(e.note));
    history.push_back(row);
  }
  view.set("history", history);
  Frame frame;
  frame.title = "Draft " + T(d.id);
  frame.page = "draft";
  Page(res, "draft.mustache", view, frame, &*who);
}

void Console::GetThreads(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  std::string q = req.get_param_value("q");
  if (q.size() > 998) q.resize(998);
  auto found = admin::SearchThreads(env_, q, kListLimit);
  if (!found.ok()) return Error(res, 500, found.error().message, &*who);
  View view;
  view.set("q", T(q));
  View rows = List();
  for (const auto& t : *found) {
    if (!who->account.handlers.empty() && who->account.role != Role::kAdmin &&
        !who->account.SeesHandler(t.owner)) {
      continue;
    }
    View row;
    row.set("id", T(t.thread_id));
    row.set("updated", FormatTime(t.updated));
    row.set("subject", t.subject.empty() ? "(no subject)" : T(t.subject));
    std::string participants;
    for (size_t i = 0; i < t.participants.size() && i < 3; ++i) {
      participants += (i ? ", " : "") + t.participants[i];
    }
    if (t.participants.size() > 3) participants += ", …";
    row.set("participants", T(participants));
    row.set("owner", T(t.owner));
    row.set("count", std::to_string(t.message_count));
    rows.push_back(row);
  }
  view.set("threads", rows);
  Frame frame;
  frame.title = "Threads";
  frame.page = "threads";
  Page(res, "threads.mustache", view, frame, &*who);
}

void Console::GetThread(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  const std::string id = req.matches[1];
  store::ThreadStore threads(env_);
  auto thread = threads.FindThread(id);
  if (!thread.ok()) return Error(res, 500, thread.error().message, &*who);
  if (!thread->has_value() ||
      (!who->account.handlers.empty() && !who->account.SeesHandler((*thread)->owner))) {
    return Error(res, 404, "No thread " + id + ".", &*who);
  }
  const store::ThreadRecord& t = **thread;
  auto messages = threads.ThreadMessages(id);
  if (!messages.ok()) return Error(res, 500, messages.error().message, &*who);
  View view;
  view.set("id", T(t.thread_id));
  view.set("subject", T(t.subject));
  view.set("owner", t.owner.empty() ? "(none)" : T(t.owner));
  view.set("created", FormatTime(t.created));
  std::string participants;
  for (const auto& p : t.participants) participants += (participants.empty() ? "" : ", ") + p;
  view.set("participants", T(participants));
  View rows = List();
  for (const auto& m : *messages) {
    View row;
    row.set("time", FormatTime(m.time));
    row.set("direction", store::ToString(m.direction));
    row.set("from", T(m.from));
    row.set("subject", T(m.subject));
    // The store keeps what each message did to the thread: outbound ones are recorded,
    // inbound ones matched an earlier message (parent) or started the thread; `match` is the
    // method of the milter's decision line (match=), with the parent it named.
    const std::string parent = m.parent.empty() ? "" : Bracketed(m.parent);
    if (m.direction == store::Direction::kOutbound) {
      row.set("decision", "recorded");
    } else {
      row.set("decision", m.parent.empty() && m.match.empty() ? "new thread" : "matched");
    }
    if (!m.match.empty()) {
      row.set("match", T(parent.empty() ? m.match : m.match + " " + parent));
    } else if (!parent.empty()) {
      row.set("match", T((m.direction == store::Direction::kOutbound ? "reply to " : "") + parent));
    } else {
      row.set("match", "");
    }
    row.set("owner", T(m.owner));
    rows.push_back(row);
  }
  view.set("messages", rows);
  Frame frame;
  frame.title = "Thread " + T(t.thread_id);
  frame.page = "thread";
  Page(res, "thread.mustache", view, frame, &*who);
}

void Console::GetJobs(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  std::string state = req.get_param_value("state");
  std::optional<runtime::JobState> wanted;
  runtime::JobState parsed;
  if (runtime::ParseJobState(state, &parsed)) {
    wanted = parsed;
  } else {
    state.clear();
  }
  runtime::JobQueue queue(env_, actions_.runtime_config().spool_dir());
  auto jobs = queue.List(100000, wanted);
  if (!jobs.ok()) return Error(res, 500, jobs.error().message, &*who);
  View view;
  View states = List();
  for (const char* s : {"", "queued", "running", "parked", "done"}) {
    View item;
    item.set("value", s);
    item.set("label", *s ? s : "not done");
    item.set("on", state == s);
    states.push_back(item);
  }
  view.set("states", states);
  View rows = List();
  size_t shown = 0;
  for (auto it = jobs->rbegin(); it != jobs->rend(); ++it) {  // newest first
    const runtime::Job& j = *it;
    if (!wanted && j.state == runtime::JobState::kDone) continue;
    if (!who->account.SeesHandler(j.handler)) continue;
    if (++shown > kListLimit) break;
    View row;
    row.set("id", T(j.id));
    row.set("kind", T(j.kind.empty() ? "message" : j.kind));
    SetIf(row, "subject", T(Bracketed(j.message_id)));
    row.set("handler", T(j.handler));
    row.set("state", runtime::ToString(j.state));
    row.set("attempts", std::to_string(j.attempts));
    row.set("last_error", T(j.last_error));
    // Done jobs have no spooled message left to run again; running ones are busy.
    row.set("can_retry", j.state == runtime::JobState::kParked ||
                             j.state == runtime::JobState::kQueued);
    row.set("can_park", j.state == runtime::JobState::kQueued);
    rows.push_back(row);
  }
  view.set("jobs", rows);
  view.set("can_act", who->account.CanAct());
  view.set("csrf", who->session.csrf);
  view.set("back", state.empty() ? "/jobs" : "/jobs?state=" + state);
  Frame frame;
  frame.title = "Jobs";
  frame.page = "jobs";
  Page(res, "jobs.mustache", view, frame, &*who);
}

void Console::GetKv(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  const std::string handler = req.matches[1];
  if (!who->account.SeesHandler(handler)) {
    return Error(res, 403, "Your account is not for handler " + handler + ".", &*who);
  }
  std::string after = req.get_param_value("after");
  constexpr size_t kPage = 100;
  store::KvStore kv(env_);
  auto entries = kv.List(handler, "", kPage, true, after);
  if (!entries.ok()) return Error(res, 500, entries.error().message, &*who);
  View view;
  view.set("handler", T(handler));
  View rows = List();
  for (const auto& e : *entries) {
    View row;
    row.set("key", T(e.key));
    row.set("value", DisplayText(e.value, true, 4096));
    rows.push_back(row);
  }
  view.set("entries", rows);
  if (entries->size() == kPage) {
    view.set("next", UrlEncode(entries->back().key));
  }
  Frame frame;
  frame.title = "Records of " + T(handler);
  frame.page = "kv";
  Page(res, "kv.mustache", view, frame, &*who);
}

void Console::GetStats(const httplib::Request& req, httplib::Response& res) {
  auto who = Authenticate(req);
  if (!who) return Redirect(res, "/login");
  auto stats = admin::ReadStoreStats(env_, actions_.runtime_config().spool_dir());
  if (!stats.ok()) return Error(res, 500, stats.error().message, &*who);
  View view;
  View rows = List();
  auto add = [&](const std::string& name, uint64_t value) {
    View row;
    row.set("name", T(name));
    row.set("value", std::to_string(value));
    rows.push_back(row);
  };
  if (!stats->shared) add("store.map_bytes", stats->map_bytes);
  for (const auto& [name, n] : stats->entries) add("store.entries." + name, n);
  for (const auto& [name, n] : stats->jobs) add("jobs." + name, n);
  for (const auto& [name, n] : stats->counters) add(name, n);
  if (stats->shared) {  // the figures above are every host's; this host's fallback spool
    add("local_spool.map_bytes", stats->map_bytes);
    for (const auto& [name, n] : stats->local_jobs) add("local_spool.jobs." + name, n);
    add("local_spool.waiting_to_push", stats->waiting_to_push);
  }
  view.set("figures", rows);
  view.set("backend", T(stats->backend));
  view.set("shared", stats->shared);
  view.set("store_error", T(stats->error));
  view.set("has_store_error", !stats->error.empty());
  View handlers = List();
  std::set<std::string> names;
  for (const auto& [name, spec] : actions_.runtime_config().handlers) names.insert(name);
  bool any = false;
  for (const auto& name : names) {
    if (!who->account.SeesHandler(name)) continue;
    handlers.push_back(View(T(name)));
    any = true;
  }
  view.set("handlers", handlers);
  view.set("has_handlers", any);
  Frame frame;
  frame.title = "Stats";
  frame.page = "stats";
  Page(res, "stats.mustache", view, frame, &*who);
}

}  // namespace threadmill::web
