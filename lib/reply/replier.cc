#include "reply/replier.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "log/kv_line.h"
#include "log/logger.h"
#include "reply/echo.h"
#include "reply/sendmail.h"
#include "store/counters.h"
#include "thread/reply_token.h"

namespace threadmill::reply {
namespace {

constexpr int64_t kEchoPollMs = 100;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Logs one reply/send outcome and counts it in the store's durable counters (the daemon's
// /metrics and `threadmillctl stats` show them).
void LogOutcome(const std::shared_ptr<store::Environment>& env, const Caller& caller,
                std::string_view kind, std::string_view msgid, std::string_view to,
                std::string_view reply_id, std::string_view decision, std::string_view reason,
                std::string_view policy = {}) {
  log::KvLine line(caller.queue_id.empty() ? std::string_view{} : caller.queue_id + ": ");
  line.Add(kind, "")
      .Add("job", caller.job_id)
      .Add("handler", caller.handler)
      .AddBracketed("msgid", msgid, false)
      .AddBracketed("to", to, true)
      .AddBracketed("reply", reply_id, false)
      .Add("decision", decision)
      .Add("reason", reason);
  if (!policy.empty()) line.Add("policy", policy);
  std::string text = line.str();
  // "reply= job=..." -> "reply job=...": the first key is the event name.
  size_t eq = text.find('=');
  if (eq != std::string::npos && eq + 1 < text.size() && text[eq + 1] == ' ') text.erase(eq, 1);
  // A cap that was hit is a warning (send limits, the conversation guards); other refusals
  // are the rules working as meant.
  if (decision == "failed" || decision == "uncertain" || reason.rfind("send-", 0) == 0 ||
      reason == "loop" || reason == "rate-thread-hour" || reason == "rate-thread") {
    log::Get().warn("{}", text);
  } else {
    log::Get().info("{}", text);
  }
  std::string series = "threadmill_replies_total{kind=\"" + std::string(kind) + "\",outcome=\"" +
                       std::string(decision) + "\",reason=\"" + std::string(reason) + "\"}";
  if (Status counted = store::Counters(env).Add(series); !counted.ok()) {
    log::Get().warn("counting {} failed: {}", series, counted.error().message);
  }
}

}  // namespace

bool IsPlainAddress(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return false;
  if (address.size() > 320) return false;
  for (unsigned char c : address) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '(' ||
        c == ')' || c == '\\' || c == '"') {
      return false;
    }
  }
  return address.substr(at + 1).find('.') != std::string_view::npos ||
         address.substr(at + 1) == "localhost";
}

Replier::Replier(std::shared_ptr<store::Environment> env, ReplyConfig config, Hooks hooks)
    : env_(std::move(env)),
      threads_(env_),
      ledger_(env_, ClaimOwner{config.host_id, config.claim_lease_seconds}),
      config_(std::move(config)),
      markers_(config_.gate_dir),
      hooks_(std::move(hooks)) {
  if (!hooks_.now) hooks_.now = Now;
  if (!hooks_.message_id) hooks_.message_id = [](std::string_view d) { return NewMessageId(d); };
  if (!hooks_.boundary) hooks_.boundary = [] { return NewBoundary(); };
}

std::string Replier::EnvelopeSender(const std::string& from) const {
  switch (config_.envelope_sender) {
    case EnvelopeSenderMode::kNull:
      return "";
    case EnvelopeSenderMode::kAddress:
      return config_.envelope_sender_address;
    case EnvelopeSenderMode::kFrom:
      break;
  }
  return from;
}

std::string Replier::FixedRefusal(const InboundFacts& facts) const {
  std::string reason = CheckReplyRules(facts, config_);
  if (!reason.empty()) return reason;
  if (!IsPlainAddress(facts.envelope_sender)) return "bad-sender";
  if (!IsPlainAddress(facts.recipient)) return "no-recipient";
  return "";
}

ReplyPolicy Replier::PolicyOf(std::string_view handler, std::string_view route) const {
  return PolicyFor(config_, handler, route);
}

ClaimLimits Replier::LimitsFor(const InboundFacts& facts, const ReplyPolicy& policy) const {
  ClaimLimits limits;
  limits.sender = facts.envelope_sender;
  limits.thread_id = facts.thread_id;
  limits.sender_period_seconds = policy.sender_period_seconds;
  limits.max_replies_per_thread = policy.max_replies_per_thread;
  limits.thread_replies_per_hour = policy.thread_replies_per_hour;
  limits.loop_turn_seconds = policy.loop_turn_seconds;
  limits.loop_max_fast_turns = policy.loop_max_fast_turns;
  if (policy.loop_max_fast_turns > 0) {
    // When the message arrived: the milter's record of it (the loop guard's clock).
    auto rec = threads_.FindMessage(facts.message_id);
    if (rec.ok() && rec->has_value()) limits.inbound_time = (*rec)->time;
  }
  return limits;
}

std::string Replier::Predict(const InboundFacts& facts, std::string_view handler,
                             std::string_view route, std::string_view milter_reason) const {
  std::string reason(milter_reason);
  if (reason == "unauthenticated-sender" && !config_.require_authenticated_sender) reason.clear();
  if (reason.empty()) reason = FixedRefusal(facts);
  if (!reason.empty()) return reason;
  ReplyPolicy policy = PolicyOf(handler, route);
  auto checked = ledger_.Check(facts.message_id, facts.recipient, LimitsFor(facts, policy), handler,
                               hooks_.now());
  if (!checked.ok()) {
    log::Get().warn("handler={} msgid=<{}>: cannot predict the reply rules: {}", handler,
                    facts.message_id, checked.error().message);
    return "";
  }
  return *checked;
}

Result<OutgoingMessage> Replier::Compose(const InboundFacts& facts, std::string_view handler,
                                         const ReplyContent& content) const {
  (void)handler;
  std::string reason = FixedRefusal(facts);
  if (!reason.empty()) return MakeError(ErrorCode::kRefused, reason);
  OutgoingMessage m;
  m.from_address = facts.recipient;
  m.from_name = content.from_name;
  m.to = {facts.envelope_sender};
  m.subject = content.subject.empty() ? ReplySubject(facts.subject) : content.subject;
  m.message_id = hooks_.message_id(DomainOf(facts.recipient));
  m.in_reply_to = facts.message_id;
  m.references = ReplyReferences(facts.references, facts.message_id, config_.max_references);
  m.auto_submitted = content.auto_submitted.empty() ? "auto-replied" : content.auto_submitted;
  AddReplyToken(facts.thread_id, &m);
  if (Status st = AddContent(content, &m); !st.ok()) return st.error();
  return m;
}

Status Replier::AddContent(const ReplyContent& content, OutgoingMessage* m) const {
  m->text = content.text;
  m->html = content.html;
  m->attachments = content.attachments;
  m->extra_headers = content.extra_headers;
  for (const auto& h : m->extra_headers) {
    std::string why = CheckExtraHeader(h.name, h.value);
    if (!why.empty()) return MakeError(ErrorCode::kInvalidInput, why);
  }
  if (ComposedBytes(*m) > static_cast<size_t>(config_.max_message_bytes)) {
    log::Get().warn("outgoing message of {} bytes refused: over [reply] max_message_bytes = {}",
                    ComposedBytes(*m), config_.max_message_bytes);
    return MakeError(ErrorCode::kRefused, "too-large");
  }
  m->date = hooks_.now();
  if (!m->html.empty()) m->boundary = hooks_.boundary();
  // "m" first: neither boundary line can start with the other.
  if (!m->attachments.empty()) m->mixed_boundary = "m" + hooks_.boundary();
  return {};
}

// A signed reply address for the thread ([threading] reply_token): Reply-To, or the From.
void Replier::AddReplyToken(const std::string& thread_id, OutgoingMessage* m) const {
  if (config_.reply_token == config::ReplyTokenMode::kOff) return;
  thread::ReplyTokenKeys keys(config_.token_keys);
  auto token = thread::MakeReplyToken(keys, thread_id, thread::DayOf(hooks_.now()),
                                      config_.token_lifetime_days);
  if (!token) return;
  std::string address = thread::AddressWithToken(m->from_address, *token);
  if (config_.reply_token == config::ReplyTokenMode::kFrom) {
    m->from_address = address;
  } else {
    m->reply_to = address;
  }
}

void Replier::Busy(int64_t seconds) const {
  if (hooks_.busy) hooks_.busy(seconds);
}

bool Replier::SeenOutbound(const std::string& message_id) const {
  return !OutboundEcho(threads_, message_id).empty();
}

bool Replier::WaitSeen(const std::string& message_id, int64_t deadline_ms) const {
  for (;;) {
    if (SeenOutbound(message_id)) return true;
    if (SteadyMs() >= deadline_ms) return false;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::clamp<int64_t>(deadline_ms - SteadyMs(), 1, kEchoPollMs)));
  }
}

Result<std::string> Replier::Uncertain(const EntryRef& ref, LedgerEntry entry,
                                       const std::string& why) {
  std::string gate = entry.gate_marker;
  entry.state = "uncertain";
  entry.sendmail_pid = 0;
  entry.sendmail_start = 0;
  entry.gate_marker.clear();
  if (Status st = ledger_.Update(ref, entry); !st.ok()) {
    log::Get().error("reply <{}>: cannot mark uncertain: {}", entry.reply_id, st.error().message);
  } else {
    markers_.Remove(gate);
  }
  log::Get().warn(
      "reply <{}> uncertain: {}; the MTA may hold it but threadmill never saw it pass as "
      "outbound: not sent again (check the MTA's log and queue for this Message-ID)",
      entry.reply_id, why);
  return MakeError(ErrorCode::kRefused, "reply-uncertain");
}

bool Replier::NeverExeced(const LedgerEntry& entry) const {
  if (entry.gate_marker.empty() || entry.sendmail_pid <= 0) return false;
  // Another host's child and marker mean nothing here (a takeover drops both; belt and braces).
  if (!config_.host_id.empty() && !entry.owner.empty() && entry.owner != config_.host_id) {
    return false;
  }
  // Gone first, then the marker: a child that is gone can no longer remove it.
  if (ProcessAlive(static_cast<pid_t>(entry.sendmail_pid), entry.sendmail_start)) return false;
  return markers_.Check(entry.gate_marker) == GateMarkers::State::kPresent;
}

std::string Replier::NewGate(const std::string& reply_id) const {
  if (!markers_.enabled()) return {};
  auto made = markers_.Create();
  if (made.ok()) return *made;
  log::Get().warn(
      "reply <{}>: no gate marker ({}): should this process die before sendmail starts, the "
      "reply will be parked uncertain",
      reply_id, made.error().message);
  return {};
}

Result<std::optional<std::string>> Replier::Settle(const EntryRef& ref, LedgerEntry* entry) {
  auto done = [&]() -> std::optional<std::string> {
    if (ledger_.MarkDone(ref).ok()) markers_.Remove(entry->gate_marker);
    return std::string("seen-outbound");
  };
  if (SeenOutbound(entry->reply_id)) return done();
  int64_t confirm_ms = config_.reinject_confirm_seconds * 1000;
  int64_t echo_deadline = SteadyMs();
  if (entry->state == "reinjecting") {
    auto pid = static_cast<pid_t>(entry->sendmail_pid);
    int64_t age_ms = std::max<int64_t>(0, (hooks_.now() - entry->reinject_time) * 1000);
    echo_deadline += std::max<int64_t>(0, confirm_ms - age_ms);
    bool killed = false;
    if (pid > 0 && ProcessAlive(pid, entry->sendmail_start)) {
      // The sendmail of an earlier attempt still runs: wait for it (it may still queue the
      // reply), up to its own time-out counted from its start.
      int64_t left_ms = std::max<int64_t>(0, config_.sendmail_timeout_seconds * 1000 - age_ms);
      Busy(left_ms / 1000 + config_.reinject_confirm_seconds + 5);
      int64_t until = SteadyMs() + left_ms;
      while (ProcessAlive(pid, entry->sendmail_start) && SteadyMs() < until &&
             !SeenOutbound(entry->reply_id)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kEchoPollMs));
      }
      if (SeenOutbound(entry->reply_id)) return done();  // queued: let it finish on its own
      if (ProcessAlive(pid, entry->sendmail_start)) {
        log::Get().warn(
            "reply <{}>: sendmail {} of an earlier attempt still runs after {} s: "
            "killing it",
            entry->reply_id, entry->sendmail_pid, config_.sendmail_timeout_seconds);
        kill(pid, SIGKILL);
        killed = true;  // its marker proves nothing: its worker may still be alive
      }
      echo_deadline = SteadyMs() + confirm_ms;
    }
    if (!killed && NeverExeced(*entry)) {
      log::Get().info(
          "reply <{}>: the interrupted attempt's sendmail never ran (its child {} ended at the "
          "gate, marker {} still there): sending it now",
          entry->reply_id, entry->sendmail_pid, entry->gate_marker);
      std::string gate = entry->gate_marker;
      entry->state = "pending";
      entry->sendmail_pid = 0;
      entry->sendmail_start = 0;
      entry->gate_marker.clear();
      if (Status st = ledger_.Update(ref, *entry); !st.ok()) return st.error();
      markers_.Remove(gate);
      return std::optional<std::string>();
    }
  }
  Busy((echo_deadline - SteadyMs()) / 1000 + 5);
  if (WaitSeen(entry->reply_id, echo_deadline)) return done();
  if (entry->state == "uncertain") return MakeError(ErrorCode::kRefused, "reply-uncertain");
  return Uncertain(ref, std::move(*entry), "an earlier attempt was interrupted during reinjection")
      .error();
}

Result<std::string> Replier::Transmit(const EntryRef& ref, LedgerEntry entry) {
  if (entry.state == "reinjecting" || entry.state == "uncertain") {
    auto settled = Settle(ref, &entry);
    if (!settled.ok()) return settled.error();
    if (settled->has_value()) return **settled;
  }
  int64_t delay_ms = config_.sendmail_retry_delay_ms;
  Error last{ErrorCode::kTemporary, "sendmail: not tried"};
  for (int64_t attempt = 1; attempt <= config_.sendmail_attempts; ++attempt) {
    std::string gate = NewGate(entry.reply_id);
    auto prepared = Reinjection::Prepare(config_.sendmail, entry.envelope_sender, entry.recipients,
                                         entry.message, gate.empty() ? "" : markers_.PathOf(gate));
    if (!prepared.ok()) {
      markers_.Remove(gate);
      if (prepared.error().code == ErrorCode::kInvalidInput) return prepared.error();
      last = prepared.error();
    } else {
      entry.state = "reinjecting";
      entry.sendmail_pid = (*prepared)->pid();
      entry.sendmail_start = (*prepared)->start_time();
      entry.gate_marker = gate;
      entry.reinject_time = hooks_.now();
      // Durable before sendmail may run; when this fails, the child exits without exec and
      // leaves its marker (for a retry that finds the write committed after all; else swept).
      if (Status st = ledger_.Update(ref, entry); !st.ok()) return st.error();
      Busy(config_.sendmail_timeout_seconds + config_.reinject_confirm_seconds + 5);
      ReinjectOutcome outcome =
          (*prepared)->Run(static_cast<int>(config_.sendmail_timeout_seconds));
      // The child is reaped: the marker is settled. It goes once the ledger no longer names it.
      if (outcome.result == ReinjectResult::kAccepted) {
        if (Status st = ledger_.MarkDone(ref); !st.ok()) {
          log::Get().error("reply <{}> sent but not marked: {}", entry.reply_id,
                           st.error().message);
        } else {
          markers_.Remove(gate);
        }
        return std::string();
      }
      if (outcome.result == ReinjectResult::kAmbiguous) {
        log::Get().warn(
            "sendmail attempt {}/{} for <{}>: {}; waiting up to {} s for the MTA to "
            "show it as outbound",
            attempt, config_.sendmail_attempts, entry.reply_id, outcome.detail,
            config_.reinject_confirm_seconds);
        if (WaitSeen(entry.reply_id, SteadyMs() + config_.reinject_confirm_seconds * 1000)) {
          if (ledger_.MarkDone(ref).ok()) markers_.Remove(gate);
          return std::string("seen-outbound");
        }
        return Uncertain(ref, std::move(entry), outcome.detail);
      }
      // Certainly not queued: safe to try again.
      entry.state = "pending";
      entry.sendmail_pid = 0;
      entry.sendmail_start = 0;
      entry.gate_marker.clear();
      if (Status st = ledger_.Update(ref, entry); !st.ok()) return st.error();
      markers_.Remove(gate);
      last = Error{ErrorCode::kTemporary, outcome.detail};
    }
    log::Get().warn("sendmail attempt {}/{} for <{}> failed: {}", attempt,
                    config_.sendmail_attempts, entry.reply_id, last.message);
    if (attempt < config_.sendmail_attempts && delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms *= 2;
    }
  }
  return last;
}

Status Replier::DeliverUnrecorded(const LedgerEntry& entry) {
  int64_t delay_ms = config_.sendmail_retry_delay_ms;
  Status last;
  for (int64_t attempt = 1; attempt <= config_.sendmail_attempts; ++attempt) {
    Busy(config_.sendmail_timeout_seconds + 5);
    auto prepared = Reinjection::Prepare(config_.sendmail, entry.envelope_sender, entry.recipients,
                                         entry.message);
    if (!prepared.ok()) return prepared.error();
    ReinjectOutcome outcome = (*prepared)->Run(static_cast<int>(config_.sendmail_timeout_seconds));
    if (outcome.result == ReinjectResult::kAccepted) return {};
    if (outcome.result == ReinjectResult::kAmbiguous) {
      if (WaitSeen(entry.reply_id, SteadyMs() + config_.reinject_confirm_seconds * 1000)) return {};
      return MakeError(ErrorCode::kRefused, "reply-uncertain");
    }
    last = MakeError(ErrorCode::kTemporary, outcome.detail);
    log::Get().warn("sendmail attempt {}/{} for <{}> failed: {}", attempt,
                    config_.sendmail_attempts, entry.reply_id, outcome.detail);
    if (attempt < config_.sendmail_attempts && delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms *= 2;
    }
  }
  return last;
}

void Replier::LogOtherHost(const InboundFacts& facts) const {
  auto held = ledger_.Find(facts.message_id, facts.recipient);
  std::string owner = "?", age = "?";
  if (held.ok() && held->has_value()) {
    owner = (*held)->owner;
    age = std::to_string(hooks_.now() - std::max((*held)->claimed, (*held)->reinject_time));
  }
  log::Get().info(
      "reply to <{}> for <{}>: host {} claimed it {} s ago and is answering it (this host {}, "
      "lease {} s): no reply from this host",
      facts.message_id, facts.recipient, owner, age, config_.host_id, config_.claim_lease_seconds);
}

Result<std::string> Replier::Reply(const InboundFacts& facts, const Caller& caller,
                                   const ReplyContent& content) {
  auto composed = Compose(facts, caller.handler, content);
  if (!composed.ok()) {
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, "", "refused",
               composed.error().message);
    return composed.error();
  }
  const OutgoingMessage& m = *composed;
  LedgerEntry proposed;
  proposed.reply_id = m.message_id;
  proposed.state = "pending";
  proposed.time = m.date;
  proposed.handler = caller.handler;
  proposed.message = RenderMessage(m);
  proposed.envelope_sender = EnvelopeSender(facts.recipient);  // never the token address
  proposed.recipients = m.to;
  proposed.thread_id = facts.thread_id;
  ReplyPolicy policy = PolicyOf(caller.handler, facts.route);
  auto claimed =
      ledger_.Claim(facts.message_id, facts.recipient, LimitsFor(facts, policy), proposed);
  if (!claimed.ok()) {
    if (claimed.error().message == "other-host") LogOtherHost(facts);
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, "",
               claimed.error().code == ErrorCode::kRefused ? "refused" : "failed",
               claimed.error().message, ToString(policy.mode));
    return claimed.error();
  }
  const LedgerEntry& entry = *claimed;

  store::MessageRecord record;
  record.msgid = entry.reply_id;
  record.thread_id = facts.thread_id;
  record.direction = store::Direction::kOutbound;
  record.owner = entry.handler;
  record.time = entry.time;
  record.from = m.from_address;
  record.to = entry.recipients;
  record.subject = m.subject.substr(0, 512);
  record.parent = facts.message_id;
  // No queue id: the milter's record of the reinjected reply adds the MTA's (the echo).
  auto recorded = threads_.RecordMessage(record);
  if (!recorded.ok()) {
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, entry.reply_id,
               "failed", "store: " + recorded.error().message);
    return MakeError(ErrorCode::kStore, recorded.error().message);
  }
  bool earlier = entry.reply_id != m.message_id;
  auto sent = Transmit(ReplyLedger::ReplyRef(facts.message_id, facts.recipient), entry);
  if (!sent.ok()) {
    bool uncertain = sent.error().message == "reply-uncertain";
    bool taken = sent.error().message == "other-host";  // taken over while this host was slow
    if (taken) LogOtherHost(facts);
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, entry.reply_id,
               uncertain ? "uncertain"
               : taken   ? "refused"
                         : "failed",
               sent.error().message);
    return sent.error();
  }
  LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, entry.reply_id, "sent",
             !sent->empty() ? *sent
             : earlier      ? "resent"
                            : "",
             ToString(policy.mode));
  return entry.reply_id;
}

Result<std::string> Replier::Send(const Caller& caller, std::string_view from_address,
                                  std::string_view from_name, const std::vector<std::string>& to,
                                  std::string_view subject, std::string_view text, uint32_t index,
                                  const SendLimits& limits) {
  SendRequest request;
  request.from_address = std::string(from_address);
  request.to = to;
  request.subject = std::string(subject);
  request.content.text = std::string(text);
  request.content.from_name = std::string(from_name);
  auto sent = Send(caller, request, index, limits);
  if (!sent.ok()) return sent.error();
  return sent->thread_id;
}

Result<SentMessage> Replier::Send(const Caller& caller, const SendRequest& request, uint32_t index,
                                  const SendLimits& limits) {
  std::vector<std::string> rcpts_all = request.to;
  rcpts_all.insert(rcpts_all.end(), request.cc.begin(), request.cc.end());
  std::string rcpts;
  for (const auto& r : rcpts_all) rcpts += (rcpts.empty() ? "" : ",") + r;
  auto refuse = [&](ErrorCode code, const std::string& reason) -> Result<SentMessage> {
    LogOutcome(env_, caller, "send", "", rcpts, "",
               reason == "reply-uncertain"   ? "uncertain"
               : code == ErrorCode::kRefused ? "refused"
                                             : "failed",
               reason);
    return MakeError(code, reason);
  };
  int64_t per_job = limits.per_job >= 0 ? limits.per_job : config_.sends_per_job;
  int64_t per_hour = limits.per_hour >= 0 ? limits.per_hour : config_.sends_per_hour;
  if (per_job > 0 && index >= static_cast<uint64_t>(per_job)) {
    return refuse(ErrorCode::kRefused, "send-cap-job");
  }
  if (!IsPlainAddress(request.from_address)) {
    return refuse(ErrorCode::kRefused, "no-from-address");
  }
  if (request.to.empty()) return refuse(ErrorCode::kInvalidInput, "no-recipient");
  if (rcpts_all.size() > static_cast<size_t>(config_.max_send_recipients)) {
    return refuse(ErrorCode::kRefused, "too-many-recipients");
  }
  for (const auto& r : rcpts_all) {
    if (!IsPlainAddress(r)) return refuse(ErrorCode::kInvalidInput, "bad-recipient");
  }
  OutgoingMessage m;
  m.from_address = request.from_address;
  m.from_name = request.content.from_name;
  m.to = request.to;
  m.cc = request.cc;
  m.subject = request.subject;
  m.message_id = hooks_.message_id(DomainOf(request.from_address));
  m.auto_submitted = "auto-generated";
  if (Status st = AddContent(request.content, &m); !st.ok()) {
    return refuse(st.error().code, st.error().message);
  }
  LedgerEntry proposed;
  proposed.thread_id = store::ThreadStore::NewThreadId();
  proposed.envelope_sender = EnvelopeSender(m.from_address);
  AddReplyToken(proposed.thread_id, &m);
  proposed.reply_id = m.message_id;
  proposed.state = "pending";
  proposed.time = m.date;
  proposed.handler = caller.handler;
  proposed.message = RenderMessage(m);
  proposed.recipients = rcpts_all;

  LedgerEntry entry = proposed;
  {
    auto claimed = ledger_.ClaimSend(caller.job_id, index, proposed, per_hour);
    if (!claimed.ok()) return refuse(claimed.error().code, claimed.error().message);
    entry = std::move(*claimed);
    if (entry.state == "sent") {  // done by an earlier attempt
      return SentMessage{entry.thread_id, entry.reply_id};
    }
  }
  store::MessageRecord record;
  record.msgid = entry.reply_id;
  record.thread_id = entry.thread_id;
  record.direction = store::Direction::kOutbound;
  record.owner = caller.handler;
  record.time = entry.time;
  record.from = m.from_address;
  record.to = rcpts_all;
  record.subject = m.subject.substr(0, 512);
  // No queue id: the milter's record of the reinjected message adds the MTA's (the echo).
  auto recorded = threads_.RecordMessage(record);
  if (!recorded.ok()) return refuse(ErrorCode::kStore, "store: " + recorded.error().message);
  std::string how;
  if (!caller.job_id.empty()) {
    auto sent = Transmit(ReplyLedger::SendRef(caller.job_id, index), entry);
    if (!sent.ok()) return refuse(sent.error().code, sent.error().message);
    how = *sent;
  } else if (Status st = DeliverUnrecorded(entry); !st.ok()) {
    return refuse(st.error().code, st.error().message);
  }
  LogOutcome(env_, caller, "send", entry.reply_id, rcpts, entry.reply_id, "sent", how);
  return SentMessage{recorded->thread_id, entry.reply_id};
}

}  // namespace threadmill::reply
