// ledger.h - the durable memory of the reply rules: once per message, rate limits, send-once.
//
// DESCRIPTION
//   Lives in the `replied` database (schema.h), one namespace per concern:
//     "once\0"   msgid '\0' recipient  -> entry JSON: the reply's Message-ID, state
//                                          pending|sent, time, handler, and while pending the
//                                          rendered message, its envelope sender and recipients
//     "rate\0"   handler '\0' sender   -> time of the last reply (Sieve vacation :days)
//     "thread\0" thread id             -> {"count": replies in the thread, "time": last}
//     "send\0"   job id '\0' n         -> entry JSON of the n-th host->send of a job
//   Claim checks and sets everything in ONE write transaction: a message is answered at most
//   once per (Message-ID, recipient) even when two workers race, jobs are retried, or the
//   process is killed. A claimed reply is "pending" until sendmail accepted it (MarkSent);
//   claiming a pending entry again returns the stored message, so a retry resends the very
//   same message (same Message-ID) instead of composing a second reply.
//
// THREADING
//   Thread-safe; each call runs its own transaction (never call inside Read/Write callbacks).
//
// LIMITS
//   A crash after sendmail accepted a reply and before MarkSent causes one resend of the same
//   message (same Message-ID, which receivers' clients collapse). Sweep removes entries older
//   than a cut-off.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::reply {

struct LedgerEntry {
  std::string reply_id;  // Message-ID of the reply (normalized) or thread id for sends
  std::string state;     // "pending" | "sent"
  int64_t time = 0;
  std::string handler;
  std::string message;          // rendered message, kept while pending
  std::string envelope_sender;  // "" = <>
  std::vector<std::string> recipients;
  std::string thread_id;
};

struct ClaimLimits {
  std::string sender;     // the address the reply goes to (rate key)
  std::string thread_id;  // "" = no per-thread cap
  int64_t sender_period_seconds = 0;
  int64_t max_replies_per_thread = 0;
};

class ReplyLedger {
 public:
  explicit ReplyLedger(std::shared_ptr<store::Environment> env);

  // Claims the reply to (message_id, recipient) for `proposed`. Returns the entry to send:
  // `proposed` (now stored as pending), or the earlier pending entry. kRefused with message
  // "already-replied", "rate-sender" or "rate-thread"; store errors otherwise.
  Result<LedgerEntry> Claim(std::string_view message_id, std::string_view recipient,
                            const ClaimLimits& limits, const LedgerEntry& proposed);
  // Marks a claimed reply as sent and drops its stored message.
  Status MarkSent(std::string_view message_id, std::string_view recipient);
  // The entry for (message_id, recipient), if any.
  Result<std::optional<LedgerEntry>> Find(std::string_view message_id,
                                          std::string_view recipient) const;

  // The same for host->send, keyed by job and the send's index within the job.
  Result<LedgerEntry> ClaimSend(std::string_view job_id, uint32_t index,
                                const LedgerEntry& proposed);
  Status MarkSendDone(std::string_view job_id, uint32_t index);

  // Removes once/send/rate/thread entries last touched before `older_than`. Returns how many.
  Result<uint64_t> Sweep(int64_t older_than);

 private:
  std::shared_ptr<store::Environment> env_;
};

}  // namespace threadmill::reply
