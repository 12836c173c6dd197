// replier.h - answers an inbound message (or starts a conversation) under the reply rules.
//
// DESCRIPTION
//   Replier::Reply is what host->reply and an approved draft end in:
//     1. rules.h checks (DMARC, null/system sender, auto-submitted, bulk/list, References);
//     2. the reply is composed: From = the local recipient (so its domain is the one that
//        received the message), To = the inbound envelope sender and nobody else, fresh
//        Message-ID at that domain, In-Reply-To/References, "Re:" subject,
//        Auto-Submitted: auto-replied;
//     3. ledger.h Claim, one transaction: once per (Message-ID, recipient), rate limit per
//        (sender, handler), cap per thread; the rendered message is stored as pending;
//     4. the reply's Message-ID is recorded in the thread store (outbound, owner = handler),
//        so the MTA passing it back through the milter and the sender's answer both land in
//        the same thread, owned by the handler;
//     5. reinjection through sendmail (sendmail.h), retried sendmail_attempts times with
//        doubling delays; on success the ledger entry becomes "sent".
//   A refusal is kRefused with the reason keyword as message; a reinjection failure is
//   kTemporary (the reply stays pending and the next attempt resends the same message).
//   Every outcome is one log line: reply job=... handler=... msgid=<...> to=<...>
//   reply=<...> decision=sent|refused|failed reason=...
//
//   Send starts a new conversation (host->send): a new thread owned by the handler, the
//   message recorded as outbound, Auto-Submitted: auto-generated, From = the given address.
//   Each send of a job is remembered by (job id, index), so a retried job does not send twice.
//
// THREADING
//   Thread-safe (state is the store). Blocks while sendmail runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "reply/builder.h"
#include "reply/ledger.h"
#include "reply/reply_config.h"
#include "reply/rules.h"
#include "store/environment.h"
#include "store/thread_store.h"

namespace threadmill::reply {

struct ReplyContent {
  std::string text;       // UTF-8, required
  std::string html;       // UTF-8, optional
  std::string from_name;  // display name of the From address, optional
};

// Where randomness and time come from (tests inject fixed values).
struct Hooks {
  std::function<int64_t()> now;
  std::function<std::string(std::string_view domain)> message_id;
  std::function<std::string()> boundary;
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

  // Steps 1-2 only: the reply that Reply would send, or kRefused. No store access.
  Result<OutgoingMessage> Compose(const InboundFacts& facts, std::string_view handler,
                                  const ReplyContent& content) const;

  // The whole reply (see file comment). Returns the reply's Message-ID (normalized).
  Result<std::string> Reply(const InboundFacts& facts, const Caller& caller,
                            const ReplyContent& content);

  // A new conversation; returns its thread id. `index` numbers the sends of one job.
  Result<std::string> Send(const Caller& caller, std::string_view from_address,
                           std::string_view from_name, const std::vector<std::string>& to,
                           std::string_view subject, std::string_view text, uint32_t index);

  const ReplyConfig& config() const { return config_; }

 private:
  Status Deliver(const LedgerEntry& entry, const Caller& caller);
  std::string EnvelopeSender(const std::string& from) const;

  std::shared_ptr<store::Environment> env_;
  store::ThreadStore threads_;
  ReplyLedger ledger_;
  ReplyConfig config_;
  Hooks hooks_;
};

// True when `address` looks like local@domain without spaces, controls or brackets.
bool IsPlainAddress(std::string_view address);

}  // namespace threadmill::reply
