#include "milter/session.h"

#include <libmilter/mfapi.h>

#include <chrono>

#include "filter/direction.h"

namespace threadmill::milter {

void Session::Connect(std::string client_name, std::string client_addr, std::string daemon_name) {
  client_name_ = std::move(client_name);
  client_addr_ = std::move(client_addr);
  daemon_name_ = std::move(daemon_name);
}

void Session::BeginMessage(std::shared_ptr<const filter::Processor> processor,
                           std::string mail_from, std::string auth_authen) {
  processor_ = std::move(processor);
  failed_ = false;
  envelope_ = filter::Envelope{};
  envelope_.client_name = client_name_;
  envelope_.client_addr = client_addr_;
  envelope_.daemon_name = daemon_name_;
  envelope_.helo = helo_;
  envelope_.mail_from = std::move(mail_from);
  envelope_.auth_authen = std::move(auth_authen);
  headers_.emplace(processor_->NewHeaders());
  auth_ = processor_->BeginAuth(envelope_);
  message_.reset();
  if (processor_->needs_raw_message() &&
      filter::ClassifyDirection(envelope_, processor_->config().direction).direction ==
          store::Direction::kInbound) {
    message_ = processor_->NewMessage();
  }
}

void Session::AddHeader(std::string_view name, std::string_view raw) {
  // With SMFIP_HDR_LEADSPC `raw` is the value exactly as it follows the colon: DKIM gets it
  // so; everything else gets it without the leading white space, as before. Without it the
  // MTA already dropped that space: DKIM gets the usual one back.
  bool leadspc = (negotiated_steps_ & SMFIP_HDR_LEADSPC) != 0;
  std::string_view value = raw;
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t' ||
                            value.front() == '\r' || value.front() == '\n'))
    value.remove_prefix(1);
  if (headers_) headers_->Add(name, value);
  if (auth_ && (leadspc || raw.empty())) auth_->Header(name, raw);
  if (auth_ && !leadspc && !raw.empty()) auth_->Header(name, " " + std::string(raw));
  if (message_) {
    // libmilter gives folded values with bare LF line breaks: the spool keeps CRLF.
    std::string field(name);
    field += leadspc ? ":" : ": ";
    value = leadspc ? raw : value;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) field += '\r';
      field += value[i];
    }
    field += "\r\n";
    AppendRaw(field);
  }
}

void Session::EndOfHeaders() {
  if (auth_) auth_->EndOfHeaders();
  AppendRaw("\r\n");
}

void Session::AddBody(std::string_view chunk) {
  if (auth_) auth_->Body(chunk);
  AppendRaw(chunk);
}

void Session::SetQueueId(std::string queue_id) {
  if (!queue_id.empty()) envelope_.queue_id = std::move(queue_id);
}

filter::Decision Session::Finish() {
  auto started = std::chrono::steady_clock::now();
  if (!headers_) headers_.emplace(processor_->NewHeaders());
  filter::Decision decision;
  if (auth_) {
    filter::AuthOutcome outcome;
    outcome.verdicts = auth_->Finish();
    decision = processor_->Decide(envelope_, *headers_, &outcome);
  } else {
    decision = processor_->Decide(envelope_, *headers_, nullptr);
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  processor_->metrics()
      .GetHistogram("threadmill_eom_seconds",
                    "End-of-message work per message (authentication, threading, store)",
                    {{"direction", store::ToString(decision.direction)}})
      .Observe(took.count());
  return decision;
}

void Session::Commit(filter::Decision* decision) {
  processor_->Commit(envelope_, message_.get(), decision);
}

void Session::EndMessage() {
  headers_.reset();
  auth_.reset();
  message_.reset();  // removes its temporary file (job links keep their copy)
  failed_ = false;
}

}  // namespace threadmill::milter
