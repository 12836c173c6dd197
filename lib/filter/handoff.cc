#include "filter/handoff.h"

#include <algorithm>
#include <ctime>

#include "log/logger.h"

namespace threadmill::filter {
namespace {

std::string AuthVerdict(const Decision& d, std::string_view method) {
  for (const auto& [key, value] : d.auth_log) {
    if (key == method) return value;
  }
  return "none";
}

std::string ThreadOwner(const store::ThreadStore& threads, const Decision& d) {
  if (!d.resolution.known()) return "";
  auto thread = threads.FindThread(d.resolution.thread_id);
  if (thread.ok() && thread->has_value()) return (*thread)->owner;
  return d.resolution.parent_record ? d.resolution.parent_record->owner : "";
}

}  // namespace

Handoff::Handoff(const config::Config& config, std::shared_ptr<runtime::JobQueue> queue,
                 std::shared_ptr<store::Environment> env)
    : Handoff(runtime::ParseRuntimeConfig(config), config.milter.on_store_error, std::move(queue),
              std::move(env)) {}

Handoff::Handoff(const runtime::RuntimeConfig& runtime, config::FailureAction on_store_error,
                 std::shared_ptr<runtime::JobQueue> queue, std::shared_ptr<store::Environment> env)
    : router_(runtime.routes),
      queue_(std::move(queue)),
      env_(std::move(env)),
      on_store_error_(on_store_error),
      active_(queue_ && (!runtime.routes.empty() || !runtime.handlers.empty())) {}

void Handoff::Run(const Envelope& envelope, const store::ThreadStore& threads, std::string_view raw,
                  bool raw_complete, Decision* d) const {
  if (!active_ || d->direction != store::Direction::kInbound || d->decision == "error") return;
  std::string owner = ThreadOwner(threads, *d);
  auto matches = router_.Route(envelope.recipients, owner);
  if (matches.empty()) return;
  if (!raw_complete) {
    d->extra_log.emplace_back("handler", "none");
    d->extra_log.emplace_back("handoff", "skipped-too-large");
    return;
  }
  runtime::JobInput input;
  input.mail_from = envelope.mail_from;
  input.client_addr = envelope.client_addr;
  input.queue_id = envelope.queue_id;
  input.message_id = d->message_id;
  input.thread_id = d->resolution.thread_id;
  input.thread_owner = owner;
  input.thread_known = d->resolution.known();
  input.references_count = static_cast<uint32_t>(d->references);
  input.dmarc = AuthVerdict(*d, "dmarc");
  input.spf = AuthVerdict(*d, "spf");
  input.dkim = AuthVerdict(*d, "dkim");
  input.no_reply_reason = d->no_reply_reason;
  input.sender_authenticated = d->sender_authenticated;
  input.received_time = static_cast<int64_t>(std::time(nullptr));
  input.raw_message = raw;

  std::string handlers, jobs;
  for (const auto& match : matches) {
    input.handler = match.handler;
    input.route = match.why;
    input.recipient = match.recipient;
    auto job = queue_->Enqueue(input);
    if (!job.ok()) {
      log::Get().error("{}: spooling for handler {} failed: {}", envelope.queue_id, match.handler,
                       job.error().message);
      d->decision = "error";
      d->reason = "spool";
      d->verdict = on_store_error_ == config::FailureAction::kTempfail ? Verdict::kTempfail
                                                                       : Verdict::kContinue;
      d->delete_recipients.clear();
      d->discard = false;
      return;
    }
    handlers += (handlers.empty() ? "" : ",") + match.handler;
    jobs += (jobs.empty() ? "" : ",") + *job;
    if (match.action == runtime::RouteAction::kConsume &&
        std::find(d->delete_recipients.begin(), d->delete_recipients.end(), match.recipient) ==
            d->delete_recipients.end()) {
      d->delete_recipients.push_back(match.recipient);
    }
  }
  // Jobs must be on disk before the MTA hears "accepted" (the store syncs periodically).
  if (Status synced = env_->Sync(); !synced.ok()) {
    log::Get().error("{}: store sync after spooling failed: {}", envelope.queue_id,
                     synced.error().message);
  }
  queue_->Poke();
  if (d->decision != "no-reply") d->decision = "queued";
  d->extra_log.emplace_back("handler", handlers);
  d->extra_log.emplace_back("job", jobs);
  d->discard =
      !d->delete_recipients.empty() && d->delete_recipients.size() >= envelope.recipients.size();
}

}  // namespace threadmill::filter
