// drafts.h - replies stored for approval instead of sent (host->draft, threadmillctl drafts).
//
// DESCRIPTION
//   A draft is stored as JSON by a store::DraftBackend (store/draft_backend.h: the `drafts`
//   LMDB database, id -> JSON; with [store] backend = "postgresql" the shared tm_draft table,
//   so a draft created on one host is approved from any) with everything needed to send
//   it later exactly like host->reply would have: the inbound facts (Message-ID, References,
//   subject, sender, local recipient, thread, DMARC and list/auto-submitted facts) and the
//   reply text/html. States: draft_for_approval -> sent (approved and reinjected), rejected
//   or expired. Approve runs reply::Replier::Reply, so every reply rule (including once per
//   message and the rate limits, checked at approval time) applies; a refused approval leaves
//   the draft awaiting approval and returns the reason.
//   Edit replaces the text of a draft awaiting approval and drops its HTML part (the reply
//   then goes out as text/plain only: an HTML version of someone else's edit would be a
//   guess). Every edit, approval, rejection and expiry is recorded with the draft (history:
//   action, by = the unix user, at, note), sets `decision` (approved | edited+approved |
//   rejected | expired; edited alone is not a decision) and is logged as one key=value line
//   "draft=ID handler=H action=... by=... note=... reply=<...>".
//   A draft awaiting approval longer than its handler's expiry (DraftExpirySeconds) becomes
//   expired (ExpireDue: the supervisor's housekeeping, and threadmillctl before a decision);
//   decided drafts are removed after the store's retention (SweepDecided).
//   A decision is told to the handler through a job of kind kDraftDecisionJob in its queue
//   (EnqueueDecision); the worker calls the module's on_draft_decision with
//   MakeDecision's struct (modules without it: the job is done at once).
//
//   Rejections, edits and expiries are stored only while the draft still awaits approval
//   (DraftBackend::Replace): of two hosts deciding one draft at once, one wins and the other
//   gets kInvalidInput "decided meanwhile", and an expiry is queued to the handler once.
//   Approvals send first (at most once: the reply ledger) and then record "sent".
//
// THREADING
//   Thread-safe; each call runs its own transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "reply/replier.h"
#include "reply/rules.h"
#include "runtime/job_queue.h"
#include "store/draft_backend.h"
#include "store/environment.h"
#include "threadmill/handler.h"

namespace threadmill::runtime {

// Job::kind of a job telling a handler what became of one of its drafts (Job::draft_id).
inline constexpr const char* kDraftDecisionJob = "draft-decision";

struct DraftEvent {
  std::string action;  // edited | approved | rejected | expired
  std::string by;      // unix user ("" for expiry)
  int64_t at = 0;
  std::string note;

  bool operator==(const DraftEvent&) const = default;
};

struct Draft {
  std::string id;  // "D" + 20 base32 characters, ordered by creation
  std::string handler;
  std::string state = "draft_for_approval";  // | "sent" | "rejected" | "expired"
  int64_t created = 0;
  int64_t updated = 0;
  std::string job_id;
  std::string queue_id;
  reply::InboundFacts facts;
  reply::ReplyContent content;
  std::string reply_id;    // Message-ID once sent
  std::string last_error;  // reason of the last refused approval
  bool edited = false;
  std::string decision;  // "" while awaiting approval; see file comment
  std::vector<DraftEvent> history;
  // What the approver reads of the inbound message (the spooled copy is gone once the job is
  // done): its From field as received, SPF/DKIM verdicts, and its best plain text (mail/mime.h,
  // HTML reduced to text), cut at kMaxInboundTextBytes. Empty in drafts stored before.
  std::string inbound_from;
  std::string inbound_spf;
  std::string inbound_dkim;
  std::string inbound_text;
  bool inbound_text_from_html = false;

  // The last event's note and author ("" when none).
  const DraftEvent* last_event() const { return history.empty() ? nullptr : &history.back(); }
};

// What the worker hands to on_draft_decision; the struct points into this object.
struct DraftDecisionCall {
  Draft draft;
  std::string message_id;  // "<id>" or ""
  threadmill_draft_decision decision{};
};
// Builds the callback's argument from the draft (its decision and last event). Pure.
std::unique_ptr<DraftDecisionCall> MakeDecision(Draft draft);

// Queues the decision job for the draft's handler. Returns the job id.
Result<std::string> EnqueueDecision(JobQueue& queue, const Draft& draft);

// The unix user running this process (real uid; SUDO_USER when root through sudo; "uid:N"
// when unnamed). Call before dropping privileges.
std::string CurrentUnixUser();

class DraftStore {
 public:
  // The environment's attached drafts backend (store/environment.h SHARED BACKENDS), else
  // its LMDB `drafts` database.
  explicit DraftStore(std::shared_ptr<store::Environment> env);
  explicit DraftStore(std::shared_ptr<store::DraftBackend> backend);

  // Stores a new draft (state draft_for_approval) and returns its id.
  Result<std::string> Create(Draft draft);
  Result<std::optional<Draft>> Get(std::string_view id) const;
  // Up to `limit` drafts, oldest first; only `state` when non-empty.
  Result<std::vector<Draft>> List(size_t limit, std::string_view state = {}) const;
  // Sends the draft with `replier` (all reply rules) and marks it sent; returns the reply's
  // Message-ID. The reply says "Auto-Submitted: no": a person approved it (RFC 3834).
  // kInvalidInput when the draft is not awaiting approval.
  Result<std::string> Approve(std::string_view id, reply::Replier& replier,
                              std::string_view by = {}, std::string_view note = {});
  // Marks the draft rejected.
  Status Reject(std::string_view id, std::string_view by = {}, std::string_view note = {});
  // Replaces the text (non-empty UTF-8, at most kMaxDraftTextBytes) of a draft awaiting
  // approval and drops its HTML part.
  Status Edit(std::string_view id, std::string_view text, std::string_view by,
              std::string_view note = {});
  // Drafts awaiting approval created at least expiry_seconds(handler) ago (0 = never) become
  // expired; returns them (up to `batch`).
  Result<std::vector<Draft>> ExpireDue(int64_t now,
                                       const std::function<int64_t(const std::string&)>& expiry,
                                       size_t batch = 1000);
  // Removes decided drafts (sent, rejected, expired) last updated before `before`.
  Result<size_t> SweepDecided(int64_t before, size_t batch = 1000);

  static constexpr size_t kMaxDraftTextBytes = size_t{1} << 20;
  static constexpr size_t kMaxInboundTextBytes = size_t{64} << 10;

 private:
  Status Put(const Draft& draft);
  // Loads a draft awaiting approval, or the error (kNotFound, kInvalidInput).
  Result<Draft> Pending(std::string_view id) const;
  // Adds the event (and the decision) to the draft; Log writes its key=value line.
  void Record(Draft& d, std::string action, std::string_view by, std::string_view note) const;
  static void Log(const Draft& d);
  // Stores a decision or edit only while the stored draft still awaits approval (another host
  // may have decided it meanwhile); logs it when stored.
  Result<bool> ReplacePending(const Draft& d);

  std::shared_ptr<store::DraftBackend> backend_;
};

}  // namespace threadmill::runtime
