// drafts.h - replies stored for approval instead of sent (host->draft, threadmillctl drafts).
//
// DESCRIPTION
//   A draft lives in the `drafts` database (draft id -> JSON) with everything needed to send
//   it later exactly like host->reply would have: the inbound facts (Message-ID, References,
//   subject, sender, local recipient, thread, DMARC and list/auto-submitted facts) and the
//   reply text/html. States: draft_for_approval -> sent (approved and reinjected) or
//   rejected. Approve runs reply::Replier::Reply, so every reply rule (including once per
//   message and the rate limits, checked at approval time) applies; a refused approval leaves
//   the draft awaiting approval and returns the reason.
//
// THREADING
//   Thread-safe; each call runs its own transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "reply/replier.h"
#include "reply/rules.h"
#include "store/environment.h"

namespace threadmill::runtime {

struct Draft {
  std::string id;  // "D" + 20 base32 characters, ordered by creation
  std::string handler;
  std::string state = "draft_for_approval";  // | "sent" | "rejected"
  int64_t created = 0;
  int64_t updated = 0;
  std::string job_id;
  std::string queue_id;
  reply::InboundFacts facts;
  reply::ReplyContent content;
  std::string reply_id;    // Message-ID once sent
  std::string last_error;  // reason of the last refused approval
};

class DraftStore {
 public:
  explicit DraftStore(std::shared_ptr<store::Environment> env);

  // Stores a new draft (state draft_for_approval) and returns its id.
  Result<std::string> Create(Draft draft);
  Result<std::optional<Draft>> Get(std::string_view id) const;
  // Up to `limit` drafts, oldest first; only `state` when non-empty.
  Result<std::vector<Draft>> List(size_t limit, std::string_view state = {}) const;
  // Sends the draft with `replier` (all reply rules) and marks it sent; returns the reply's
  // Message-ID. The reply says "Auto-Submitted: no": a person approved it (RFC 3834). kInvalidInput when the draft is not awaiting approval.
  Result<std::string> Approve(std::string_view id, reply::Replier& replier);
  // Marks the draft rejected.
  Status Reject(std::string_view id);

 private:
  Status Put(const Draft& draft);

  std::shared_ptr<store::Environment> env_;
};

}  // namespace threadmill::runtime
