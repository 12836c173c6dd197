// replier.h - answers an inbound message (or starts a conversation) under the reply rules.
//
// DESCRIPTION
//   Replier::Reply is what host->reply and an approved draft end in:
//     1. rules.h checks (DMARC, null/system sender, auto-submitted, bulk/list, References);
//     2. the reply is composed: From = the local recipient (so its domain is the one that
//        received the message), To = the inbound envelope sender and nobody else, fresh
//        Message-ID at that domain, In-Reply-To/References, "Re:" subject,
//        Auto-Submitted: auto-replied;
//     3. ledger.h Claim, one transaction: once per (Message-ID, recipient), and the rate
//        limits of the handler's reply policy (policy.h: vacation per (sender, handler),
//        conversation per thread and the loop guard); the rendered message is stored as
//        pending;
//     4. the reply's Message-ID is recorded in the thread store (outbound, owner = handler),
//        so the MTA passing it back through the milter and the sender's answer both land in
//        the same thread, owned by the handler;
//     5. reinjection through sendmail (sendmail.h), exactly once (below); on success the
//        ledger entry becomes "sent".
//   A refusal is kRefused with the reason keyword as message; a reinjection that certainly
//   did not reach the MTA is kTemporary (the reply stays pending and the next attempt sends
//   the same message).
//   Several MX hosts sharing the ledger: a reply another host has claimed and is sending
//   right now (the same message delivered to both) is refused "other-host" (ledger.h,
//   SEVERAL HOSTS), with an info line naming that host; the job ends without a reply.
//   Every outcome is one log line: reply job=... handler=... msgid=<...> to=<...>
//   reply=<...> decision=sent|refused|failed|uncertain reason=... policy=vacation|conversation
//
//   Predict tells at dispatch what Reply would answer now (the envelope's no_reply_reason,
//   issue 10): the milter's verdict, the rules of step 1 with this configuration (DMARC
//   included), and the ledger's state under the handler's policy (already replied, rate
//   limits, loop guard), read-only. Reply checks everything again.
//
//   EXACTLY ONCE THROUGH CRASHES. The ledger entry turns "reinjecting" (with sendmail's pid
//   and start time) in a committed transaction BEFORE sendmail may exec. Every reinjected
//   reply passes back through threadmill's own milter (Postfix non_smtpd_milters) as
//   outbound, and the milter's record of its Message-ID carries the MTA's queue id, while
//   the record written here in step 4 carries none: a record with a queue id is the MTA's
//   "I have it" (the outbound echo, SeenOutbound). So:
//     - sendmail exit 0: sent.
//     - sendmail failed before reading the whole message (or could not run): it cannot have
//       queued it; the entry goes back to pending and is tried again (sendmail_attempts
//       times, doubling delays), later by the job's retry.
//     - sendmail read it all, then failed or timed out (e.g. queued, then exit 75): the echo
//       is awaited up to reinject_confirm_seconds; seen: sent (reason=seen-outbound); not
//       seen: "uncertain".
//     - a retry finding "reinjecting" (the worker or supervisor died during sendmail, or
//       before MarkSent): a sendmail still running is waited for (up to
//       sendmail_timeout_seconds from its start, then killed). When the recorded child
//       ended on its own and the attempt's gate marker is still there (gate_marker.h: the
//       child removes it right before exec), sendmail never ran - the worker died between
//       the ledger commit and the opening of the gate - and the reply is sent again now
//       (an info line says so). Otherwise the echo decides: awaited as above; not seen:
//       "uncertain". Only the host that forked the child looks at its marker (the entry
//       keeps pid and marker only while this host owns it: ledger.h SEVERAL HOSTS); a child
//       the retry had to kill, or a marker that cannot be read, falls back to the echo.
//   An uncertain reply is never sent again automatically ("one answer, never two": a
//   missing answer can be sent by hand, a duplicate cannot be taken back); it is refused
//   with "reply-uncertain", logged as a warning with its Message-ID, and the host parks the
//   job (docs/decisions.md). Hooks::busy tells the worker's supervisor before each wait, so
//   the job time-out never kills a worker in the middle of a reinjection.
//
//   Send starts a new conversation (host->send): a new thread owned by the handler, the
//   message recorded as outbound, Auto-Submitted: auto-generated, From = the given address;
//   its log line names the new message as msgid=<...>.
//   Each send of a job is remembered by (job id, index), so a retried job does not send twice,
//   and goes through the same exactly-once reinjection. Sends are limited per handler
//   (sends_per_hour, a token bucket in the ledger) and per job (sends_per_job: the index);
//   refusals are "send-rate" and "send-cap-job", logged as warnings.
//
// THREADING
//   Thread-safe (state is the store). Blocks while sendmail runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "reply/builder.h"
#include "reply/gate_marker.h"
#include "reply/ledger.h"
#include "reply/policy.h"
#include "reply/reply_config.h"
#include "reply/rules.h"
#include "reply/sendmail.h"
#include "store/environment.h"
#include "store/thread_store.h"

namespace threadmill::reply {

struct ReplyContent {
  ReplyContent(std::string text_ = {}, std::string html_ = {}, std::string from_name_ = {})
      : text(std::move(text_)), html(std::move(html_)), from_name(std::move(from_name_)) {}
  std::string text;       // UTF-8, required
  std::string html;       // UTF-8, optional
  std::string from_name;  // display name of the From address, optional
  // ABI 1.1 (reply_ex/send_ex). Checked by Compose/Send: extra header names (builder.h
  // CheckExtraHeader -> kInvalidInput), size ([reply] max_message_bytes -> kRefused
  // "too-large").
  std::string subject;  // reply: "" = "Re: " + the inbound subject
  std::vector<OutgoingAttachment> attachments;
  std::vector<ExtraHeader> extra_headers;
  std::string auto_submitted;  // reply: "" = "auto-replied"; "no" = approved by a person
};

// A new conversation (Replier::Send).
struct SendRequest {
  std::string from_address;
  std::vector<std::string> to;
  std::vector<std::string> cc;  // also recipients; counted in max_send_recipients
  std::string subject;          // required
  ReplyContent content;         // text, html, from_name, attachments, extra headers
};

// What Send produced.
struct SentMessage {
  std::string thread_id;
  std::string message_id;  // normalized, without <>
};

// Where randomness and time come from (tests inject fixed values).
struct Hooks {
  std::function<int64_t()> now;
  std::function<std::string(std::string_view domain)> message_id;
  std::function<std::string()> boundary;
  // Called before the replier blocks for up to `seconds` (sendmail, waiting for the echo).
  // The worker tells its supervisor, which extends the job's deadline. May be empty.
  std::function<void(int64_t seconds)> busy;
};

// Per-handler send limits; -1 takes the [reply] default.
struct SendLimits {
  int64_t per_hour = -1;
  int64_t per_job = -1;
};

// Identifies the caller in log lines.
struct Caller {
  std::string handler;
  std::string job_id;  // "" outside a job (draft approval)
  std::string queue_id;
};

class Replier {
 public:
  Replier(std::shared_ptr<store::Environment> env, ReplyConfig config, Hooks hooks = {});

  // The reply policy of `handler` for a message routed as `route` (policy.h PolicyFor).
  ReplyPolicy PolicyOf(std::string_view handler, std::string_view route) const;

  // What Reply would answer now, without sending: "" or the refusal keyword. `milter_reason`
  // is the job's no_reply_reason (the milter's verdict, filter/reply_safety.h). A store error
  // reading the ledger is logged and predicts nothing (""). Read-only.
  std::string Predict(const InboundFacts& facts, std::string_view handler, std::string_view route,
                      std::string_view milter_reason) const;

  // Steps 1-2 only: the reply that Reply would send, or kRefused. No store access.
  Result<OutgoingMessage> Compose(const InboundFacts& facts, std::string_view handler,
                                  const ReplyContent& content) const;

  // The whole reply (see file comment). Returns the reply's Message-ID (normalized).
  Result<std::string> Reply(const InboundFacts& facts, const Caller& caller,
                            const ReplyContent& content);

  // A new conversation; returns its thread id. `index` numbers the sends of one job.
  Result<std::string> Send(const Caller& caller, std::string_view from_address,
                           std::string_view from_name, const std::vector<std::string>& to,
                           std::string_view subject, std::string_view text, uint32_t index,
                           const SendLimits& limits = {});
  // The same with cc, html, attachments and extra headers; returns the thread id and the
  // new message's Message-ID (logged as msgid=).
  Result<SentMessage> Send(const Caller& caller, const SendRequest& request, uint32_t index,
                           const SendLimits& limits = {});

  // Whether the MTA showed the milter `message_id` as outbound (the echo, see file comment).
  bool SeenOutbound(const std::string& message_id) const;

  const ReplyConfig& config() const { return config_; }

 private:
  // Hands a claimed entry to the MTA exactly once. Returns "" (sent now) or
  // "seen-outbound" (the MTA already had it); kRefused "reply-uncertain", kTemporary.
  Result<std::string> Transmit(const EntryRef& ref, LedgerEntry entry);
  // A "reinjecting" or "uncertain" entry found again (see file comment). nullopt: sendmail
  // never ran; *entry is pending again (stored) and is to be sent.
  Result<std::optional<std::string>> Settle(const EntryRef& ref, LedgerEntry* entry);
  // True when the gated child of `entry`'s interrupted attempt is gone and its gate marker
  // still there: sendmail never ran (see file comment).
  bool NeverExeced(const LedgerEntry& entry) const;
  // A fresh gate marker's name for a reinjection of `reply_id`, "" (a warning) when markers
  // are off or it cannot be created: the reinjection goes ahead without one.
  std::string NewGate(const std::string& reply_id) const;
  // Polls SeenOutbound until `deadline_ms` (steady clock).
  bool WaitSeen(const std::string& message_id, int64_t deadline_ms) const;
  Result<std::string> Uncertain(const EntryRef& ref, LedgerEntry entry, const std::string& why);
  // Sends without a ledger entry (host->send outside a job).
  Status DeliverUnrecorded(const LedgerEntry& entry);
  void Busy(int64_t seconds) const;
  // The info line of a reply refused "other-host": which host holds the claim, since when.
  void LogOtherHost(const InboundFacts& facts) const;
  // Text, html, attachments and extra headers of `content` into `m` (checked), date and
  // boundaries.
  Status AddContent(const ReplyContent& content, OutgoingMessage* m) const;
  void AddReplyToken(const std::string& thread_id, OutgoingMessage* m) const;
  std::string EnvelopeSender(const std::string& from) const;
  // Step 1: "" or the refusal keyword of the fixed rules (rules.h and plain addresses).
  std::string FixedRefusal(const InboundFacts& facts) const;
  // The ledger limits of a reply to `facts` under `policy`.
  ClaimLimits LimitsFor(const InboundFacts& facts, const ReplyPolicy& policy) const;

  std::shared_ptr<store::Environment> env_;
  store::ThreadStore threads_;
  ReplyLedger ledger_;
  ReplyConfig config_;
  GateMarkers markers_;
  Hooks hooks_;
};

// True when `address` looks like local@domain without spaces, controls or brackets.
bool IsPlainAddress(std::string_view address);

}  // namespace threadmill::reply
