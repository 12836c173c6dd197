#include "reply/replier.h"

#include <chrono>
#include <thread>

#include "log/kv_line.h"
#include "log/logger.h"
#include "reply/sendmail.h"
#include "store/counters.h"

namespace threadmill::reply {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Logs one reply/send outcome and counts it in the store's durable counters (the daemon's
// /metrics and `threadmillctl stats` show them).
void LogOutcome(const std::shared_ptr<store::Environment>& env, const Caller& caller,
                std::string_view kind, std::string_view msgid, std::string_view to,
                std::string_view reply_id, std::string_view decision, std::string_view reason) {
  log::KvLine line(caller.queue_id.empty() ? std::string_view{} : caller.queue_id + ": ");
  line.Add(kind, "")
      .Add("job", caller.job_id)
      .Add("handler", caller.handler)
      .AddBracketed("msgid", msgid, false)
      .AddBracketed("to", to, true)
      .AddBracketed("reply", reply_id, false)
      .Add("decision", decision)
      .Add("reason", reason);
  std::string text = line.str();
  // "reply= job=..." -> "reply job=...": the first key is the event name.
  size_t eq = text.find('=');
  if (eq != std::string::npos && eq + 1 < text.size() && text[eq + 1] == ' ') text.erase(eq, 1);
  if (decision == "failed") {
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
      ledger_(env_),
      config_(std::move(config)),
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

Result<OutgoingMessage> Replier::Compose(const InboundFacts& facts, std::string_view handler,
                                         const ReplyContent& content) const {
  (void)handler;
  std::string reason = CheckReplyRules(facts, config_);
  if (!reason.empty()) return MakeError(ErrorCode::kRefused, reason);
  if (!IsPlainAddress(facts.envelope_sender)) return MakeError(ErrorCode::kRefused, "bad-sender");
  if (!IsPlainAddress(facts.recipient)) return MakeError(ErrorCode::kRefused, "no-recipient");
  OutgoingMessage m;
  m.from_address = facts.recipient;
  m.from_name = content.from_name;
  m.to = {facts.envelope_sender};
  m.subject = ReplySubject(facts.subject);
  m.message_id = hooks_.message_id(DomainOf(facts.recipient));
  m.in_reply_to = facts.message_id;
  m.references = ReplyReferences(facts.references, facts.message_id, config_.max_references);
  m.auto_submitted = "auto-replied";
  m.text = content.text;
  m.html = content.html;
  m.date = hooks_.now();
  if (!m.html.empty()) m.boundary = hooks_.boundary();
  return m;
}

Status Replier::Deliver(const LedgerEntry& entry, const Caller& caller) {
  (void)caller;
  int64_t delay_ms = config_.sendmail_retry_delay_ms;
  Status last;
  for (int64_t attempt = 1; attempt <= config_.sendmail_attempts; ++attempt) {
    last = Reinject(config_.sendmail, entry.envelope_sender, entry.recipients, entry.message,
                    static_cast<int>(config_.sendmail_timeout_seconds));
    if (last.ok()) return last;
    log::Get().warn("sendmail attempt {}/{} for <{}> failed: {}", attempt,
                    config_.sendmail_attempts, entry.reply_id, last.error().message);
    if (attempt < config_.sendmail_attempts && delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms *= 2;
    }
  }
  return last;
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
  proposed.envelope_sender = EnvelopeSender(m.from_address);
  proposed.recipients = m.to;
  proposed.thread_id = facts.thread_id;
  ClaimLimits limits;
  limits.sender = facts.envelope_sender;
  limits.thread_id = facts.thread_id;
  limits.sender_period_seconds = config_.sender_period_seconds;
  limits.max_replies_per_thread = config_.max_replies_per_thread;
  auto claimed = ledger_.Claim(facts.message_id, facts.recipient, limits, proposed);
  if (!claimed.ok()) {
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, "",
               claimed.error().code == ErrorCode::kRefused ? "refused" : "failed",
               claimed.error().message);
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
  record.queue_id = caller.queue_id;
  auto recorded = threads_.RecordMessage(record);
  if (!recorded.ok()) {
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, entry.reply_id,
               "failed", "store: " + recorded.error().message);
    return MakeError(ErrorCode::kStore, recorded.error().message);
  }
  if (Status st = Deliver(entry, caller); !st.ok()) {
    LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, entry.reply_id,
               "failed", st.error().message);
    return st.error();
  }
  if (Status st = ledger_.MarkSent(facts.message_id, facts.recipient); !st.ok()) {
    log::Get().error("reply <{}> sent but not marked: {}", entry.reply_id, st.error().message);
  }
  LogOutcome(env_, caller, "reply", facts.message_id, facts.envelope_sender, entry.reply_id, "sent",
             entry.reply_id == m.message_id ? "" : "resent");
  return entry.reply_id;
}

Result<std::string> Replier::Send(const Caller& caller, std::string_view from_address,
                                  std::string_view from_name, const std::vector<std::string>& to,
                                  std::string_view subject, std::string_view text, uint32_t index) {
  auto refuse = [&](ErrorCode code, const std::string& reason) -> Result<std::string> {
    std::string rcpts;
    for (const auto& r : to) rcpts += (rcpts.empty() ? "" : ",") + r;
    LogOutcome(env_, caller, "send", "", rcpts, "",
               code == ErrorCode::kRefused ? "refused" : "failed", reason);
    return MakeError(code, reason);
  };
  if (!IsPlainAddress(from_address)) return refuse(ErrorCode::kRefused, "no-from-address");
  if (to.empty()) return refuse(ErrorCode::kInvalidInput, "no-recipient");
  if (to.size() > static_cast<size_t>(config_.max_send_recipients)) {
    return refuse(ErrorCode::kRefused, "too-many-recipients");
  }
  for (const auto& r : to) {
    if (!IsPlainAddress(r)) return refuse(ErrorCode::kInvalidInput, "bad-recipient");
  }
  OutgoingMessage m;
  m.from_address = std::string(from_address);
  m.from_name = std::string(from_name);
  m.to = to;
  m.subject = std::string(subject);
  m.message_id = hooks_.message_id(DomainOf(from_address));
  m.auto_submitted = "auto-generated";
  m.text = std::string(text);
  m.date = hooks_.now();
  LedgerEntry proposed;
  proposed.reply_id = m.message_id;
  proposed.state = "pending";
  proposed.time = m.date;
  proposed.handler = caller.handler;
  proposed.message = RenderMessage(m);
  proposed.envelope_sender = EnvelopeSender(m.from_address);
  proposed.recipients = to;
  proposed.thread_id = store::ThreadStore::NewThreadId();

  LedgerEntry entry = proposed;
  if (!caller.job_id.empty()) {
    auto claimed = ledger_.ClaimSend(caller.job_id, index, proposed);
    if (!claimed.ok()) return refuse(ErrorCode::kStore, claimed.error().message);
    entry = std::move(*claimed);
    if (entry.state == "sent") return entry.thread_id;  // done by an earlier attempt
  }
  store::MessageRecord record;
  record.msgid = entry.reply_id;
  record.thread_id = entry.thread_id;
  record.direction = store::Direction::kOutbound;
  record.owner = caller.handler;
  record.time = entry.time;
  record.from = m.from_address;
  record.to = to;
  record.subject = m.subject.substr(0, 512);
  record.queue_id = caller.queue_id;
  auto recorded = threads_.RecordMessage(record);
  if (!recorded.ok()) return refuse(ErrorCode::kStore, "store: " + recorded.error().message);
  if (Status st = Deliver(entry, caller); !st.ok()) {
    return refuse(st.error().code, st.error().message);
  }
  if (!caller.job_id.empty()) (void)ledger_.MarkSendDone(caller.job_id, index);
  std::string rcpts;
  for (const auto& r : to) rcpts += (rcpts.empty() ? "" : ",") + r;
  LogOutcome(env_, caller, "send", "", rcpts, entry.reply_id, "sent", "");
  return recorded->thread_id;
}

}  // namespace threadmill::reply
