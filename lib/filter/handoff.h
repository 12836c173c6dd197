// handoff.h - hands routed inbound messages to handlers as durable jobs.
//
// DESCRIPTION
//   For an inbound message, the routes ([[routes]]: recipient pattern -> handler) and the
//   thread's owner (replies to a conversation a handler started go back to it) name the
//   handlers. Each (recipient, handler) becomes one job in the spool, committed and flushed
//   to disk BEFORE the milter answers the MTA, so an accepted message is never lost for its
//   handler. Route action "consume" removes the handled recipient from delivery; the message
//   is discarded when no recipient is left. A spool failure follows on_store_error and the
//   message is delivered normally.
//
//   Only mail the MTA is told to accept becomes jobs: nothing is spooled for a message that
//   is rejected, tempfailed or quarantined (handoff=skipped-VERDICT in the decision line).
//   The message is stored once for all its jobs (JobQueue::EnqueueMessage); an MTA retry of a
//   message spooled before creates no new job (dup=N). At most [handlers]
//   max_routed_recipients jobs per message (routed_cap=N; recipients past the cap are
//   delivered normally, never consumed); [handlers] spool_quota_mb bounds the spool
//   (reason=spool-quota, then on_store_error). A message whose thread lookup or recording
//   failed (decision=error reason=store) and that the MTA accepts is handed off unthreaded;
//   with [store] backend = "postgresql" and the database away its jobs go to the local
//   fallback spool (spool=local-fallback) and reach the database when it is back.
#pragma once

#include <memory>
#include <string_view>

#include "config/config.h"
#include "filter/decision.h"
#include "filter/envelope.h"
#include "filter/message_headers.h"
#include "runtime/job_queue.h"
#include "runtime/router.h"
#include "runtime/runtime_config.h"
#include "store/thread_store.h"

namespace threadmill::filter {

class Handoff {
 public:
  // `runtime` is the snapshot's parsed runtime part (runtime/config_snapshot.h).
  Handoff(const runtime::RuntimeConfig& runtime, config::FailureAction on_store_error,
          std::shared_ptr<runtime::JobQueue> queue, std::shared_ptr<store::Environment> env);

  // True when any route exists (or handlers may own threads): the milter then buffers
  // inbound messages so they can be spooled.
  bool active() const { return active_; }

  // Routes and spools `message` (may be null: nothing was kept) for an inbound decision
  // whose verdict is continue; updates the decision (decision=queued, handler=, job=,
  // recipients to delete, discard). Call after the message's header changes were made.
  void Run(const Envelope& envelope, const store::ThreadStore& threads,
           runtime::IncomingMessage* message, Decision* d) const;
  // The same for a message held in memory (raw_complete=false: it was too large).
  void Run(const Envelope& envelope, const store::ThreadStore& threads, std::string_view raw,
           bool raw_complete, Decision* d) const;

  // A holder for the next message as it streams in (in the spool directory).
  std::unique_ptr<runtime::IncomingMessage> NewMessage(size_t max_bytes) const;
  const std::shared_ptr<runtime::JobQueue>& queue() const { return queue_; }

 private:
  void SpoolFailed(const Envelope& envelope, const char* reason, const std::string& why,
                   Decision* d) const;

  runtime::Router router_;
  std::shared_ptr<runtime::JobQueue> queue_;
  std::shared_ptr<store::Environment> env_;
  config::FailureAction on_store_error_;
  uint64_t quota_bytes_;
  size_t max_routed_;
  bool active_;
};

}  // namespace threadmill::filter
