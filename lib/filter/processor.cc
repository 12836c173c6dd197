#include "filter/processor.h"

#include <ctime>

#include "filter/authentication.h"
#include "filter/decision_metrics.h"
#include "filter/direction.h"
#include "filter/message_id.h"
#include "filter/reply_safety.h"
#include "log/logger.h"
#include "mail/auto_response.h"
#include "mail/msgid.h"
#include "reply/reply_config.h"

namespace threadmill::filter {

Processor::Processor(std::shared_ptr<const config::Config> config,
                     std::shared_ptr<store::ThreadStore> store,
                     std::shared_ptr<auth::Authenticator> authenticator,
                     std::shared_ptr<metrics::Registry> metrics,
                     std::shared_ptr<const Handoff> handoff)
    : config_(std::move(config)),
      store_(std::move(store)),
      authenticator_(std::move(authenticator)),
      metrics_(metrics ? std::move(metrics) : std::make_shared<metrics::Registry>()),
      handoff_(std::move(handoff)),
      token_keys_(config_->threading.token_keys) {
  // The reply rules' own list, so the milter's noreply= and a handler's reply agree. The
  // daemon validated [reply] at start; a configuration it cannot read keeps the default.
  try {
    system_senders_ = reply::ParseReplyConfig(*config_).system_senders;
  } catch (const std::exception&) {
    system_senders_ = mail::DefaultSystemSenders();
  }
}

std::unique_ptr<auth::MessageAuth> Processor::BeginAuth(const Envelope& envelope) const {
  if (!authenticator_) return nullptr;
  if (!config_->auth.authenticate_outbound &&
      ClassifyDirection(envelope, config_->direction).direction == store::Direction::kOutbound) {
    return nullptr;
  }
  auto message = authenticator_->Begin(envelope.client_addr, envelope.helo, envelope.queue_id);
  message->EnvelopeFrom(envelope.mail_from);
  return message;
}

bool Processor::needs_body() const {
  return (authenticator_ && config_->auth.dkim) || needs_raw_message();
}

MessageHeaders Processor::NewHeaders() const {
  HeaderLimits limits;
  limits.max_header_bytes = config_->milter.max_header_bytes;
  limits.max_fields = config_->milter.max_header_fields;
  limits.max_field_bytes = config_->milter.max_header_field_bytes;
  return MessageHeaders(limits, config_->auth.enabled ? config_->auth.authserv_id : "");
}

std::unique_ptr<runtime::IncomingMessage> Processor::NewMessage() const {
  if (!handoff_) return nullptr;
  return handoff_->NewMessage(config_->milter.max_message_bytes);
}

Decision Processor::Decide(const Envelope& envelope, MessageHeaders& headers,
                           const AuthOutcome* auth) const noexcept {
  Decision d;
  try {
    DecideOrThrow(envelope, headers, auth, &d);
  } catch (const std::exception& e) {
    log::Get().error("{}: internal error: {}", envelope.queue_id, e.what());
    Fail(&d, "internal", config_->milter.on_internal_error);
  } catch (...) {
    log::Get().error("{}: internal error: unknown exception", envelope.queue_id);
    Fail(&d, "internal", config_->milter.on_internal_error);
  }
  d.defects.Merge(headers.defects());
  CountDecision(*metrics_, d);
  return d;
}

Decision Processor::Decide(const Envelope& envelope, MessageHeaders& headers,
                           const AuthOutcome* auth, std::string_view raw,
                           bool raw_complete) const noexcept {
  Decision d = Decide(envelope, headers, auth);
  if (!handoff_ || !handoff_->active()) return d;
  try {
    handoff_->Run(envelope, *store_, raw, raw_complete, &d);
  } catch (const std::exception& e) {
    log::Get().error("{}: internal error in handoff: {}", envelope.queue_id, e.what());
    Fail(&d, "internal", config_->milter.on_internal_error);
  }
  return d;
}

void Processor::Commit(const Envelope& envelope, runtime::IncomingMessage* message,
                       Decision* d) const noexcept {
  if (!handoff_) return;
  try {
    handoff_->Run(envelope, *store_, message, d);
  } catch (const std::exception& e) {
    log::Get().error("{}: internal error in handoff: {}", envelope.queue_id, e.what());
    Fail(d, "internal", config_->milter.on_internal_error);
  } catch (...) {
    log::Get().error("{}: internal error in handoff: unknown exception", envelope.queue_id);
    Fail(d, "internal", config_->milter.on_internal_error);
  }
}

// Keeps what authentication decided (headers, a stricter verdict): a failure never undoes it.
void Processor::Fail(Decision* d, const char* reason, config::FailureAction action) const {
  d->outcome = Outcome::kError;
  d->reason = reason;
  if (action == config::FailureAction::kTempfail) Escalate(d, Verdict::kTempfail, {});
}

bool Processor::StoreFailed(Decision* d) const {
  if (config_->milter.on_store_error == config::FailureAction::kTempfail) {
    Fail(d, "store", config::FailureAction::kTempfail);
    return false;
  }
  d->store_failed = true;
  d->reason = "store";
  return true;
}

void Processor::DecideOrThrow(const Envelope& envelope, MessageHeaders& headers,
                              const AuthOutcome* auth, Decision* d) const {
  DirectionVerdict direction = ClassifyDirection(envelope, config_->direction);
  d->direction = direction.direction;
  d->direction_why = direction.why;

  // Authentication first, independent of the store (issue 8: a full map must not let a
  // forged A-R or a p=reject spoof through).
  RemoveForgedAuthResults(*config_, headers.ForgedAuthResults(), d);
  if (auth) ApplyVerdicts(*config_, auth->verdicts, d);

  thread::ThreadHeaders threading = headers.ThreadingHeaders();
  d->references = headers.ReferencesCount();
  if (threading.message_id.empty() && direction.direction == store::Direction::kOutbound &&
      config_->milter.add_message_id) {
    threading.message_id = NewMessageId(config_->milter.hostname);
    d->message_id_added = true;
    d->add_headers.emplace_back("Message-ID", mail::FormatMsgId(threading.message_id));
  }
  d->message_id = threading.message_id;

  // A signed reply address (issue 11): only inbound mail, only the token's own MAC counts.
  std::optional<thread::TokenResult> token;
  if (direction.direction == store::Direction::kInbound) {
    for (const std::string& rcpt : envelope.recipients) {
      std::string_view text = thread::TokenOfAddress(rcpt);
      if (text.empty()) continue;
      token = thread::CheckReplyToken(token_keys_, text,
                                      thread::DayOf(static_cast<int64_t>(std::time(nullptr))));
      if (token->check == thread::TokenCheck::kValid) break;
    }
  }
  if (direction.direction == store::Direction::kInbound) {
    // Before the store: a message handed off after a store failure (handoff.h) keeps them.
    d->sender_authenticated =
        SenderAuthenticated(envelope.mail_from, auth ? &auth->verdicts : nullptr,
                            authenticator_ ? authenticator_->psl() : nullptr);
    d->no_reply_reason =
        NoReplyReason(envelope, headers, d->references, config_->threading.max_references,
                      d->sender_authenticated, &system_senders_);
  }
  auto resolution = thread::Resolve(*store_, threading, config_->threading.use_thread_index,
                                    token ? &*token : nullptr);
  if (!resolution.ok()) {
    log::Get().error("{}: store lookup failed: {}", envelope.queue_id, resolution.error().message);
    if (!StoreFailed(d)) return;
    // Degraded: no match, a thread id of its own, nothing recorded (the store is away).
    d->resolution = thread::Resolution{};
    d->resolution.thread_id = store::ThreadStore::NewThreadId();
  } else {
    d->resolution = std::move(*resolution);
  }
  if (!d->resolution.token_reason.empty()) {
    if (d->reason.empty()) {
      d->reason = d->resolution.token_reason;
    } else {
      d->extra_log.emplace_back("token", d->resolution.token_reason);
    }
  }

  // A message the MTA is told to refuse never reaches a mailbox: it is not recorded in a
  // thread (a rejected spoof must not plant its Message-ID there; a deferred one is recorded
  // when it is accepted).
  // Only a Thread-Index root we sent maps a conversation (issue 11): an inbound root alone
  // would let any Outlook message join whatever thread first carried it.
  if (d->verdict == Verdict::kContinue && !d->store_failed &&
      !Record(envelope, headers,
              direction.direction == store::Direction::kOutbound ? threading.thread_index_root
                                                                 : std::string(),
              threading.thread_index, d)) {
    return;
  }
  if (direction.direction == store::Direction::kOutbound) {
    d->outcome = d->store_failed ? Outcome::kUnthreaded : Outcome::kRecorded;
    return;
  }
  if (d->store_failed) {
    d->outcome = Outcome::kUnthreaded;
    if (!d->no_reply_reason.empty()) d->extra_log.emplace_back("noreply", d->no_reply_reason);
  } else if (d->no_reply_reason == "references") {
    d->outcome = Outcome::kNoReply;
    d->reason = "references";
  } else {
    d->outcome = d->resolution.known() ? Outcome::kMatched : Outcome::kNewThread;
    if (!d->no_reply_reason.empty()) d->extra_log.emplace_back("noreply", d->no_reply_reason);
  }
}

// Records the message in its thread. Returns false when deciding stops: a store failure under
// on_store_error = tempfail (decision=error); under accept threading degrades (StoreFailed).
bool Processor::Record(const Envelope& envelope, const MessageHeaders& headers,
                       const std::string& thread_index_root, const std::string& thread_index,
                       Decision* d) const {
  if (d->message_id.empty()) {
    // Nothing to key on (inbound without Message-ID): the thread id is this message's only.
    if (d->reason.empty()) d->reason = "no-message-id";
    return true;
  }
  store::MessageRecord record;
  record.msgid = d->message_id;
  record.thread_id = d->resolution.thread_id;
  record.direction = d->direction;
  record.time = static_cast<int64_t>(std::time(nullptr));
  record.from = envelope.mail_from;
  record.to = envelope.recipients;
  record.subject = headers.First("Subject").substr(0, 512);
  record.parent = d->resolution.parent;
  record.queue_id = envelope.queue_id;
  record.thread_index = thread_index;
  if (d->resolution.method != thread::MatchMethod::kNone) {
    record.match = thread::ToString(d->resolution.method);
  }
  // Routing (handoff.cc) needs the thread's owner of an inbound message: the record hands the
  // thread back instead of a second lookup. Asked for only then (decoding it costs CPU).
  std::optional<store::ThreadRecord> thread_after;
  const bool routing = needs_raw_message() && d->direction == store::Direction::kInbound;
  auto stored = store_->RecordMessage(record, thread_index_root, routing ? &thread_after : nullptr);
  if (thread_after) d->thread_owner = thread_after->owner;
  if (!stored.ok()) {
    log::Get().error("{}: store write failed: {}", envelope.queue_id, stored.error().message);
    return StoreFailed(d);
  }
  // A message seen before (MTA retry, second recipient) keeps the thread it was given then.
  if (stored->thread_id != d->resolution.thread_id) {
    d->resolution.thread_id = stored->thread_id;
  }
  return true;
}

}  // namespace threadmill::filter
