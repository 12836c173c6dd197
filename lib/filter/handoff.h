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
  // Throws config::ConfigError for bad [routes]/[handlers] sections.
  Handoff(const config::Config& config, std::shared_ptr<runtime::JobQueue> queue,
          std::shared_ptr<store::Environment> env);

  // True when any route exists (or handlers may own threads): the milter then buffers
  // inbound messages so they can be spooled.
  bool active() const { return active_; }

  // Routes and spools `raw` (the whole message) for an inbound decision; updates the
  // decision (decision=queued, handler=, job=, recipients to delete, discard).
  void Run(const Envelope& envelope, const store::ThreadStore& threads, std::string_view raw,
           bool raw_complete, Decision* d) const;

 private:
  Handoff(const runtime::RuntimeConfig& runtime, config::FailureAction on_store_error,
          std::shared_ptr<runtime::JobQueue> queue, std::shared_ptr<store::Environment> env);

  runtime::Router router_;
  std::shared_ptr<runtime::JobQueue> queue_;
  std::shared_ptr<store::Environment> env_;
  config::FailureAction on_store_error_;
  bool active_;
};

}  // namespace threadmill::filter
