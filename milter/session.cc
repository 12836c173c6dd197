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
  headers_.emplace(processor_->config().milter.max_header_bytes);
  auth_ = processor_->BeginAuth(envelope_);
  raw_.clear();
  raw_complete_ = true;
  keep_raw_ = processor_->needs_raw_message() &&
              filter::ClassifyDirection(envelope_, processor_->config().direction).direction ==
                  store::Direction::kInbound;
}

void Session::AppendRaw(std::string_view data) {
  if (!keep_raw_ || !raw_complete_) return;
  if (raw_.size() + data.size() > processor_->config().milter.max_message_bytes) {
    raw_complete_ = false;  // too large to spool: handlers will not see it (logged)
    std::string().swap(raw_);
    return;
  }
  raw_.append(data);
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
  if (keep_raw_) {
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
  if (!headers_) headers_.emplace(processor_->config().milter.max_header_bytes);
  filter::Decision decision;
  if (auth_) {
    filter::AuthOutcome outcome;
    outcome.verdicts = auth_->Finish();
    outcome.forged_auth_results = auth_->ForgedAuthResults();
    decision = processor_->Decide(envelope_, *headers_, &outcome, raw_, raw_complete_);
  } else {
    decision = processor_->Decide(envelope_, *headers_, nullptr, raw_, raw_complete_);
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  processor_->metrics()
      .GetHistogram("threadmill_eom_seconds",
                    "End-of-message work per message (authentication, threading, store)",
                    {{"direction", store::ToString(decision.direction)}})
      .Observe(took.count());
  return decision;
}

void Session::EndMessage() {
  headers_.reset();
  auth_.reset();
  std::string().swap(raw_);  // give large buffers back between messages
  failed_ = false;
}

}  // namespace threadmill::milter
