// processor.h - the end-of-message decision for one message: direction, thread, record.
//
// DESCRIPTION
//   Outbound mail (ours) is recorded: its Message-ID maps to the thread it answers, or to a new
//   thread; mail without a Message-ID gets one first (add_message_id). Inbound mail is resolved
//   against the store (In-Reply-To, References newest first, Thread-Index) and recorded too, so
//   our replies to it and later answers stay in the same thread. More References than
//   max_references means the message may never be answered automatically.
//
//   Authentication never depends on the store: the verdicts, our Authentication-Results, the
//   removal of forged A-R fields (inbound and outbound) and DMARC enforcement are decided
//   first, and a store failure afterwards only adds decision=error and its failure action
//   (which can make the verdict stricter, never milder).
//
//   One Processor exists per configuration snapshot; the milter swaps it on reload. Decide()
//   is thread-safe and never throws: store and internal errors become decision=error with the
//   configured failure action (on_store_error / on_internal_error), and the message goes on.
//   Handing the message to handlers is a second step, Commit(), which the milter calls once
//   the header changes were made and only when the MTA will hear "continue".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "config/config.h"
#include "filter/decision.h"
#include "filter/envelope.h"
#include "filter/handoff.h"
#include "filter/message_headers.h"
#include "metrics/registry.h"
#include "store/thread_store.h"

namespace threadmill::filter {

// The authentication outcome of one message, computed while it streamed in.
struct AuthOutcome {
  auth::Verdicts verdicts;
};

class Processor {
 public:
  // `authenticator` may be null (authentication disabled).
  Processor(std::shared_ptr<const config::Config> config, std::shared_ptr<store::ThreadStore> store,
            std::shared_ptr<auth::Authenticator> authenticator = nullptr,
            std::shared_ptr<metrics::Registry> metrics = nullptr,
            std::shared_ptr<const Handoff> handoff = nullptr);

  // Whether mail from this envelope is authenticated (inbound, or all with
  // authenticate_outbound), and with what; null when not.
  std::unique_ptr<auth::MessageAuth> BeginAuth(const Envelope& envelope) const;
  // Whether the milter must ask the MTA for message bodies (DKIM, spooling for handlers).
  bool needs_body() const;
  // Whether inbound messages must be kept whole for spooling (handlers are configured).
  bool needs_raw_message() const { return handoff_ && handoff_->active(); }
  // An empty header collector with this configuration's caps and authserv-id.
  MessageHeaders NewHeaders() const;
  // A holder for an inbound message to spool, or null when no handler may need it.
  std::unique_ptr<runtime::IncomingMessage> NewMessage() const;

  // The decision without handlers (see Commit).
  Decision Decide(const Envelope& envelope, MessageHeaders& headers,
                  const AuthOutcome* auth = nullptr) const noexcept;
  // Hands an inbound message whose verdict is continue to its handlers (durable jobs);
  // `message` as kept while it arrived (null: not kept). Never throws: failures follow
  // on_store_error / on_internal_error.
  void Commit(const Envelope& envelope, runtime::IncomingMessage* message,
              Decision* decision) const noexcept;
  // Decide() then Commit() of a message held in memory (tests, tools).
  Decision Decide(const Envelope& envelope, MessageHeaders& headers, const AuthOutcome* auth,
                  std::string_view raw, bool raw_complete) const noexcept;

  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& config_ptr() const { return config_; }
  // Process-wide metrics (never null; a private registry when none was given).
  metrics::Registry& metrics() const { return *metrics_; }

 private:
  void DecideOrThrow(const Envelope& envelope, MessageHeaders& headers, const AuthOutcome* auth,
                     Decision* d) const;
  bool Record(const Envelope& envelope, const MessageHeaders& headers,
              const std::string& thread_index_root, const std::string& thread_index,
              Decision* d) const;
  void Fail(Decision* d, const char* reason, config::FailureAction action) const;
  // A thread lookup or record failed. on_store_error = tempfail: decision=error (false: stop
  // deciding). accept: threading degrades, reason=store (true: the message goes on).
  bool StoreFailed(Decision* d) const;

  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<store::ThreadStore> store_;
  std::shared_ptr<auth::Authenticator> authenticator_;
  std::shared_ptr<metrics::Registry> metrics_;
  std::shared_ptr<const Handoff> handoff_;
  std::vector<std::string> system_senders_;  // [reply] system_senders (auto_response.h)
  thread::ReplyTokenKeys token_keys_;        // [threading] token_key_files, read at start
};

}  // namespace threadmill::filter
