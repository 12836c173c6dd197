// session.h - per-connection state of one MTA milter connection.
//
// DESCRIPTION
//   libmilter runs one thread per MTA connection; a Session belongs to that connection and is
//   only touched by its thread. It keeps the connection facts (client, HELO) and the current
//   message (envelope, headers); a connection may carry several messages, so message state is
//   reset at MAIL FROM and after end-of-message or abort. An inbound message that handlers may
//   need is streamed into a runtime::IncomingMessage as it arrives (bounded memory: large
//   messages go to a temporary file in the spool directory, which becomes the one spool
//   copy of its jobs, or is removed at the end of the message).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "filter/envelope.h"
#include "filter/message_headers.h"
#include "filter/processor.h"
#include "runtime/incoming_message.h"

namespace threadmill::milter {

class Session {
 public:
  explicit Session(std::shared_ptr<const filter::Processor> processor)
      : processor_(std::move(processor)) {}

  void Connect(std::string client_name, std::string client_addr, std::string daemon_name);
  void Helo(std::string helo) { helo_ = std::move(helo); }
  // Starts a new message (MAIL FROM), taking the newest configuration snapshot.
  void BeginMessage(std::shared_ptr<const filter::Processor> processor, std::string mail_from,
                    std::string auth_authen);
  void AddRecipient(std::string rcpt) { envelope_.recipients.push_back(std::move(rcpt)); }
  void AddHeader(std::string_view name, std::string_view value);
  void EndOfHeaders();
  void AddBody(std::string_view chunk);
  void SetQueueId(std::string queue_id);

  // Decides about the current message; the caller applies and logs it.
  filter::Decision Finish();
  // Hands the message to its handlers; only once the MTA will hear "continue".
  void Commit(filter::Decision* decision);
  void EndMessage();

  bool in_message() const { return headers_.has_value(); }
  // The protocol steps negotiated with the MTA (SMFIP_*), e.g. which replies it won't wait for.
  unsigned long negotiated_steps() const { return negotiated_steps_; }
  void set_negotiated_steps(unsigned long steps) { negotiated_steps_ = steps; }
  // An earlier step of the current message failed; the failure policy answers at its end.
  void MarkFailed() { failed_ = true; }
  bool failed() const { return failed_; }
  // The current message carries an Authentication-Results field claiming our authserv-id.
  bool forged_auth_results_seen() const {
    return headers_ && !headers_->ForgedAuthResults().empty();
  }
  const filter::Envelope& envelope() const { return envelope_; }
  const filter::Processor& processor() const { return *processor_; }

 private:
  std::shared_ptr<const filter::Processor> processor_;
  std::string client_name_, client_addr_, daemon_name_, helo_;
  filter::Envelope envelope_;
  std::optional<filter::MessageHeaders> headers_;
  std::unique_ptr<auth::MessageAuth> auth_;  // null when this message is not authenticated
  // The whole message (headers CRLF-joined, blank line, body) when handlers may need it.
  std::unique_ptr<runtime::IncomingMessage> message_;
  void AppendRaw(std::string_view data) {
    if (message_) message_->Append(data);
  }
  unsigned long negotiated_steps_ = 0;
  bool failed_ = false;
};

}  // namespace threadmill::milter
