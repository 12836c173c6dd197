// ledger.h - the durable memory of the reply rules: once per message, rate limits, send-once.
//
// DESCRIPTION
//   Lives in a store::LedgerBackend (store/ledger_backend.h): the `replied` LMDB database
//   (schema.h) by default, or PostgreSQL. One namespace per concern:
//     "once\0"   msgid '\0' recipient  -> entry JSON: the reply's Message-ID, state
//                                          pending|sent, time, handler, and while pending the
//                                          rendered message, its envelope sender and recipients
//     "rate\0"   handler '\0' sender   -> time of the last reply (Sieve vacation :days);
//                                          the sender as RateKeyAddress normalises it
//     "thread\0" thread id             -> {"count": replies in the thread, "time": last,
//                                          "tokens": left of thread_replies_per_hour}
//     "turn\0"   handler '\0' sender   -> {"time": last reply, "fast": fast turns in a row}
//                                          (conversation loop guard, policy.h)
//     "send\0"   job id '\0' n         -> entry JSON of the n-th host->send of a job
//     "sendrate\0" handler            -> token bucket of host->send (sends_per_hour)
//   Claim checks and sets everything in ONE (serializable) write transaction: a message is
//   answered at most once per (Message-ID, recipient) even when two workers or hosts race,
//   jobs are retried, or the process is killed. An entry's state:
//     pending      claimed, never handed to sendmail: a retry may send it
//     reinjecting  committed BEFORE sendmail may run, with sendmail's pid and start time
//                  and the attempt's gate marker: the MTA may hold the message, so a retry
//                  never sends it again blindly (replier.h: the marker proves sendmail never
//                  ran, else the outbound echo decides)
//     uncertain    reinjected, outcome unknown and no echo seen: parked for the operator
//     sent         the MTA has it (sendmail exit 0, or the milter saw it pass as outbound)
//   Claiming an entry that is not sent returns the stored message, so a retry deals with the
//   very same message (same Message-ID) instead of composing a second reply.
//
//   SEVERAL HOSTS (a shared backend). A ledger built with a ClaimOwner records in every entry
//   it claims which host claimed it (`owner`, [store] host_id) and when (`claimed`). Resuming
//   an unsent entry is the crash recovery of ONE host; another host finding a pending or
//   reinjecting entry whose lease is fresh (claimed or last reinjected less than
//   lease_seconds ago) is refused "other-host": that host is answering the message right now
//   (the same message delivered to two MX hosts at the same instant). A stale claim (its host
//   died or stopped) is taken over: owner and claim time are rewritten, a foreign sendmail
//   pid and gate marker are dropped (they name a process and a file of the other host).
//   Update refuses "other-host" when the stored entry was taken over by another host
//   meanwhile, so a slow owner never overwrites the new owner's state. Entries without an
//   owner (written before owners existed, or by a ledger without ClaimOwner) are resumed as
//   before.
//
// THREADING
//   Thread-safe; each call runs its own transaction (never call inside Read/Write callbacks).
//
// LIMITS
//   Sweep removes sent entries older than a cut-off; entries still owed (pending, reinjecting,
//   uncertain) are kept.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/environment.h"
#include "store/ledger_backend.h"

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
  // While "reinjecting": the sendmail child (pid and /proc start time, against pid reuse)
  // and when the reinjection started (unix seconds).
  int64_t sendmail_pid = 0;
  uint64_t sendmail_start = 0;
  int64_t reinject_time = 0;
  // While "reinjecting": the name of the attempt's gate marker (gate_marker.h) on the host
  // that forked the child; "" = none (markers off, or the claim was taken over).
  std::string gate_marker;
  // The host that claimed the entry ([store] host_id; "" = unknown: older entries) and when
  // it claimed or took it over (unix seconds; 0 = unknown).
  std::string owner;
  int64_t claimed = 0;
};

// Who claims: this host's id and how long another host's unsent claim counts as in progress
// (runtime_config.h derives it from the job and sendmail time-outs). host_id "" = entries
// carry no owner and every unsent entry is resumed (one host, tests, threadmillctl).
struct ClaimOwner {
  std::string host_id;
  int64_t lease_seconds = 0;
};

// One entry of the ledger: a reply (Message-ID, recipient) or a send (job, index).
struct EntryRef {
  std::string ns;
  std::string key;
};

// What a reply is claimed under: the handler's reply policy (policy.h) made concrete. 0 turns
// a limit off.
struct ClaimLimits {
  std::string sender;                   // the address the reply goes to (rate key)
  std::string thread_id;                // "" = no per-thread cap
  int64_t sender_period_seconds = 0;    // vacation: one reply per (handler, sender) per period
  int64_t max_replies_per_thread = 0;   // replies in one thread, in all
  int64_t thread_replies_per_hour = 0;  // token bucket per thread (bursts up to this many)
  // Loop guard: a message that arrives less than loop_turn_seconds after the handler's last
  // reply to the same sender (or before it) is a fast turn; after loop_max_fast_turns fast
  // turns in a row were answered, the next fast one is refused ("loop"). A slower message
  // resets the count. inbound_time 0 (unknown) skips the guard.
  int64_t loop_turn_seconds = 0;
  int64_t loop_max_fast_turns = 0;
  int64_t inbound_time = 0;  // when the message being answered arrived (unix seconds)
};

// The key the per-(sender, handler) rate limit counts under: the domain and the local part
// lower-cased, a "+tag" sub-address removed ("Victim+2@Example.ORG" -> "victim@example.org";
// "-tag" is kept), a quoted local part only lower-cased. Pure.
std::string RateKeyAddress(std::string_view address);

class ReplyLedger {
 public:
  // The LMDB ledger of `env`.
  explicit ReplyLedger(std::shared_ptr<store::Environment> env, ClaimOwner owner = {});
  // Any backend (non-null), e.g. PostgreSQL (store/postgresql/pg_ledger_backend.h).
  explicit ReplyLedger(std::shared_ptr<store::LedgerBackend> backend, ClaimOwner owner = {});

  static EntryRef ReplyRef(std::string_view message_id, std::string_view recipient);
  static EntryRef SendRef(std::string_view job_id, uint32_t index);

  // Claims the reply to (message_id, recipient) for `proposed`. Returns the entry to send:
  // `proposed` (now stored as pending), or the earlier entry that is not sent yet (any
  // state but sent), now owned by this host. kRefused with message "other-host" (another
  // host's fresh claim, see SEVERAL HOSTS), "already-replied", "rate-sender" (vacation
  // period), "rate-thread" (max_replies_per_thread), "rate-thread-hour"
  // (thread_replies_per_hour) or "loop" (loop guard); store errors otherwise.
  Result<LedgerEntry> Claim(std::string_view message_id, std::string_view recipient,
                            const ClaimLimits& limits, const LedgerEntry& proposed);
  // What Claim would answer at `now` for `handler`, without claiming: "" (a reply would be
  // claimed, or an earlier unsent one resumed) or the refusal keyword. Read-only.
  Result<std::string> Check(std::string_view message_id, std::string_view recipient,
                            const ClaimLimits& limits, std::string_view handler, int64_t now) const;
  // Marks a claimed reply as sent and drops its stored message.
  Status MarkSent(std::string_view message_id, std::string_view recipient);
  // The entry for (message_id, recipient), if any.
  Result<std::optional<LedgerEntry>> Find(std::string_view message_id,
                                          std::string_view recipient) const;

  // The same for host->send, keyed by job and the send's index within the job ("" = outside
  // a job: nothing is remembered). A new send takes a token of the handler's bucket
  // (`per_hour` sends an hour, bursts up to per_hour; 0 = no limit): kRefused "send-rate"
  // when it is empty. An earlier claim of the same (job, index) is returned without a token.
  Result<LedgerEntry> ClaimSend(std::string_view job_id, uint32_t index,
                                const LedgerEntry& proposed, int64_t per_hour = 0);
  Status MarkSendDone(std::string_view job_id, uint32_t index);

  // Overwrites an existing entry (state changes of replier.h). kNotFound when it is gone;
  // kRefused "other-host" when another host took it over (its owner is not entry.owner).
  Status Update(const EntryRef& ref, const LedgerEntry& entry);
  // Marks an entry sent and drops its stored message.
  Status MarkDone(const EntryRef& ref);

  // Entries still owed (not sent: pending, reinjecting, uncertain), replies and sends, in key
  // order, at most `limit`. For the operator (threadmillctl replies).
  struct Owed {
    EntryRef ref;
    LedgerEntry entry;
  };
  Result<std::vector<Owed>> ListOwed(size_t limit) const;

  // Removes once/send/rate/thread/turn entries last touched before `older_than`. Returns how many.
  Result<uint64_t> Sweep(int64_t older_than);

 private:
  std::shared_ptr<store::LedgerBackend> backend_;
  ClaimOwner owner_;
};

}  // namespace threadmill::reply
