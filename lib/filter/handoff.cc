#include "filter/handoff.h"

#include <algorithm>
#include <ctime>

#include "log/logger.h"

namespace threadmill::filter {
namespace {

std::string ThreadOwner(const store::ThreadStore& threads, const Decision& d) {
  if (!d.resolution.known()) return "";
  // Recorded just now: the thread as that record left it, read in the same step.
  if (d.thread_owner) return *d.thread_owner;
  auto thread = threads.FindThread(d.resolution.thread_id);
  if (thread.ok() && thread->has_value()) return (*thread)->owner;
  return d.resolution.parent_record ? d.resolution.parent_record->owner : "";
}

}  // namespace

Handoff::Handoff(const runtime::RuntimeConfig& runtime, config::FailureAction on_store_error,
                 std::shared_ptr<runtime::JobQueue> queue, std::shared_ptr<store::Environment> env)
    : router_(runtime::Router::FromConfig(runtime)),
      queue_(std::move(queue)),
      env_(std::move(env)),
      on_store_error_(on_store_error),
      quota_bytes_(static_cast<uint64_t>(runtime.spool_quota_mb) << 20),
      max_routed_(static_cast<size_t>(runtime.max_routed_recipients)),
      active_(queue_ && (!runtime.routes.empty() || !runtime.handlers.empty())) {}

std::unique_ptr<runtime::IncomingMessage> Handoff::NewMessage(size_t max_bytes) const {
  if (!active_) return nullptr;
  return std::make_unique<runtime::IncomingMessage>(queue_->spool_dir(), max_bytes);
}

void Handoff::SpoolFailed(const Envelope& envelope, const char* reason, const std::string& why,
                          Decision* d) const {
  log::Get().error("{}: spooling for handlers failed: {}", envelope.queue_id, why);
  d->outcome = Outcome::kError;
  d->reason = reason;
  d->verdict =
      on_store_error_ == config::FailureAction::kTempfail ? Verdict::kTempfail : Verdict::kContinue;
  d->delete_recipients.clear();
  d->discard = false;
}

void Handoff::Run(const Envelope& envelope, const store::ThreadStore& threads, std::string_view raw,
                  bool raw_complete, Decision* d) const {
  if (!active_) return;
  runtime::IncomingMessage message(queue_->spool_dir(), raw_complete ? SIZE_MAX : 0);
  message.Append(raw_complete ? raw : std::string_view("x"));
  Run(envelope, threads, &message, d);
}

void Handoff::Run(const Envelope& envelope, const store::ThreadStore& threads,
                  runtime::IncomingMessage* message, Decision* d) const {
  if (!active_ || d->direction != store::Direction::kInbound) return;
  // A thread-store failure the MTA is told to accept (on_store_error = accept) is
  // kUnthreaded and still hands the message to its handlers: with a shared database away its
  // jobs wait in the local fallback spool (runtime/job_queue.h SHARED QUEUE), never lost.
  if (d->outcome == Outcome::kError) return;
  std::string owner = ThreadOwner(threads, *d);
  auto matches = router_.Route(envelope.recipients, owner);
  if (!owner.empty() && std::none_of(matches.begin(), matches.end(),
                                     [&](const auto& m) { return m.handler == owner; })) {
    d->extra_log.emplace_back("owner_skipped", owner);  // not addressed to it (router.h)
  }
  if (matches.empty()) return;
  // Handlers see only what the MTA accepts: never a rejected, deferred or held message.
  const char* refused = d->verdict == Verdict::kReject     ? "skipped-reject"
                        : d->verdict == Verdict::kTempfail ? "skipped-tempfail"
                        : !d->quarantine.empty()           ? "skipped-quarantine"
                                                           : nullptr;
  if (refused) {
    d->extra_log.emplace_back("handler", "none");
    d->extra_log.emplace_back("handoff", refused);
    return;
  }
  if (!message || message->too_large()) {
    d->extra_log.emplace_back("handler", "none");
    d->extra_log.emplace_back("handoff", "skipped-too-large");
    return;
  }
  if (!message->complete()) {
    SpoolFailed(envelope, "spool", message->error(), d);
    return;
  }
  if (matches.size() > max_routed_) {
    log::Get().warn(
        "{}: {} routed recipients, only the first {} go to handlers "
        "([handlers] max_routed_recipients)",
        envelope.queue_id, matches.size(), max_routed_);
    d->extra_log.emplace_back("routed_cap", std::to_string(max_routed_));
    d->defects.Add(mail::Defect::kTooComplex);
    matches.resize(max_routed_);
  }
  runtime::JobInput input;
  input.mail_from = envelope.mail_from;
  input.client_addr = envelope.client_addr;
  input.helo = envelope.helo;
  input.queue_id = envelope.queue_id;
  input.message_id = d->message_id;
  input.thread_id = d->resolution.thread_id;
  input.thread_owner = owner;
  input.parent_message_id = d->resolution.parent;
  input.thread_known = d->resolution.known();
  input.references_count = static_cast<uint32_t>(d->references);
  input.dmarc = d->dmarc_result();
  input.spf = d->spf_result();
  input.dkim = d->dkim_result();
  input.no_reply_reason = d->no_reply_reason;
  input.sender_authenticated = d->sender_authenticated;
  input.arc_override = d->verdicts && !d->verdicts->arc_override.empty();
  input.received_time = static_cast<int64_t>(std::time(nullptr));

  std::vector<runtime::JobInput> inputs;
  for (const auto& match : matches) {
    input.handler = match.handler;
    input.route = match.why;
    input.recipient = match.recipient;
    inputs.push_back(input);
  }
  auto jobs = queue_->EnqueueMessage(inputs, *message, quota_bytes_);
  if (!jobs.ok()) {
    bool quota = jobs.error().code == ErrorCode::kTemporary;
    SpoolFailed(envelope, quota ? "spool-quota" : "spool", jobs.error().message, d);
    return;
  }
  std::string handlers, ids;
  size_t duplicates = 0;
  if (!jobs->empty() && jobs->front().fallback) {  // runtime/job_queue.h SHARED QUEUE
    log::Get().warn(
        "{}: the shared job queue is unreachable: job(s) spooled locally, pushed to it when it "
        "answers",
        envelope.queue_id);
    d->extra_log.emplace_back("spool", "local-fallback");
  }
  for (size_t i = 0; i < matches.size(); ++i) {
    const auto& match = matches[i];
    const runtime::Enqueued& job = (*jobs)[i];
    if (job.duplicate) ++duplicates;
    handlers += (handlers.empty() ? "" : ",") + match.handler;
    ids += (ids.empty() ? "" : ",") + job.id;
    if (match.action == runtime::RouteAction::kConsume &&
        std::find(d->delete_recipients.begin(), d->delete_recipients.end(), match.recipient) ==
            d->delete_recipients.end()) {
      d->delete_recipients.push_back(match.recipient);
    }
  }
  // Jobs must be on disk before the MTA hears "accepted" (the store syncs periodically);
  // jobs in the shared queue are committed in the database already.
  const bool local = !queue_->shared() || (!jobs->empty() && jobs->front().fallback);
  if (duplicates < matches.size() && local) {
    if (Status synced = env_->Sync(); !synced.ok()) {
      log::Get().error("{}: store sync after spooling failed: {}", envelope.queue_id,
                       synced.error().message);
    }
  }
  // Queued (handler=, job= follow); an unthreaded or no-reply message keeps saying so.
  if (d->outcome != Outcome::kNoReply && d->outcome != Outcome::kUnthreaded) {
    d->outcome = Outcome::kQueued;
  }
  d->extra_log.emplace_back("handler", handlers);
  d->extra_log.emplace_back("job", ids);
  if (duplicates) d->extra_log.emplace_back("dup", std::to_string(duplicates));
  d->discard =
      !d->delete_recipients.empty() && d->delete_recipients.size() >= envelope.recipients.size();
}

}  // namespace threadmill::filter
