// actions.h - the operator actions threadmillctl and threadmill-web share: draft edit, approve
// and reject, job retry and park.
//
// DESCRIPTION
//   One implementation for both front ends, so a draft approved from the console is sent
//   exactly like `threadmillctl drafts approve`: before any draft decision the drafts past
//   their handler's expiry are expired (and their handlers told); approve sends through
//   reply::Replier with every reply rule ([reply] of the configuration); each decision
//   (approve, reject, and the expiries) is queued for the draft's handler as a
//   draft-decision job (runtime::EnqueueDecision -> on_draft_decision). Edits are not
//   decisions and are not told. `by` is recorded in the draft's history and its log line
//   (runtime/drafts.h): the unix user for threadmillctl, "web:USER" for the console.
//   A handler that cannot be told is logged (warn) and does not undo the decision.
//
// THREADING
//   Not thread-safe (one Actions per thread or a caller's lock); the store calls themselves
//   are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "runtime/drafts.h"
#include "runtime/job_queue.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"

namespace threadmill::admin {

// Seconds since the epoch.
int64_t NowSeconds();

class Actions {
 public:
  // `env` must be opened read-write.
  Actions(const config::Config& config, std::shared_ptr<store::Environment> env);

  // Replaces the text of a draft awaiting approval. Returns the draft as stored.
  Result<runtime::Draft> EditDraft(std::string_view id, std::string_view text, std::string_view by,
                                   std::string_view note);
  // Sends the draft; returns it as stored (reply_id set). On refusal the error message is the
  // reason (the draft stays awaiting approval, last_error set).
  Result<runtime::Draft> ApproveDraft(std::string_view id, std::string_view by,
                                      std::string_view note);
  Result<runtime::Draft> RejectDraft(std::string_view id, std::string_view by,
                                     std::string_view note);
  // Expires drafts past their handler's expiry and tells their handlers. Returns how many.
  size_t ExpireDue();

  // Queues a parked (or failed, or queued) job again with a fresh attempt count.
  Result<runtime::Job> RetryJob(std::string_view id);
  // Parks a queued job with `reason`.
  Result<runtime::Job> ParkJob(std::string_view id, std::string_view reason = "parked by operator");

  runtime::DraftStore& drafts() { return drafts_; }
  runtime::JobQueue& queue() { return queue_; }
  const runtime::RuntimeConfig& runtime_config() const { return rt_; }

 private:
  void TellHandler(const runtime::Draft& draft);
  Result<runtime::Draft> ReadBack(std::string_view id);

  std::shared_ptr<store::Environment> env_;
  runtime::RuntimeConfig rt_;
  runtime::DraftStore drafts_;
  runtime::JobQueue queue_;
};

}  // namespace threadmill::admin
