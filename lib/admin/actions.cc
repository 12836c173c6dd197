#include "admin/actions.h"

#include <chrono>

#include "log/logger.h"
#include "reply/replier.h"

namespace threadmill::admin {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Actions::Actions(const config::Config& config, std::shared_ptr<store::Environment> env)
    : env_(env),
      rt_(runtime::ParseRuntimeConfig(config)),
      drafts_(env),
      queue_(env, rt_.spool_dir()) {}

void Actions::TellHandler(const runtime::Draft& draft) {
  auto job = runtime::EnqueueDecision(queue_, draft);
  if (!job.ok()) {
    log::Get().warn("draft={} handler={} told=no error=\"{}\"", draft.id, draft.handler,
                    job.error().message);
  }
}

size_t Actions::ExpireDue() {
  auto expired = drafts_.ExpireDue(
      NowSeconds(), [&](const std::string& handler) { return rt_.DraftExpirySeconds(handler); });
  if (!expired.ok()) return 0;
  for (const auto& d : *expired) TellHandler(d);
  return expired->size();
}

Result<runtime::Draft> Actions::ReadBack(std::string_view id) {
  auto d = drafts_.Get(id);
  if (!d.ok()) return d.error();
  if (!d->has_value()) {
    return MakeError(ErrorCode::kInternal, "draft " + std::string(id) + " cannot be read back");
  }
  return std::move(**d);
}

Result<runtime::Draft> Actions::EditDraft(std::string_view id, std::string_view text,
                                          std::string_view by, std::string_view note) {
  ExpireDue();  // a draft past its expiry is expired now, not edited
  if (Status st = drafts_.Edit(id, text, by, note); !st.ok()) return st.error();
  return ReadBack(id);
}

Result<runtime::Draft> Actions::ApproveDraft(std::string_view id, std::string_view by,
                                             std::string_view note) {
  ExpireDue();
  reply::Replier replier(env_, rt_.reply);
  auto sent = drafts_.Approve(id, replier, by, note);
  if (!sent.ok()) return sent.error();
  auto d = ReadBack(id);
  if (d.ok()) TellHandler(*d);
  return d;
}

Result<runtime::Draft> Actions::RejectDraft(std::string_view id, std::string_view by,
                                            std::string_view note) {
  ExpireDue();
  if (Status st = drafts_.Reject(id, by, note); !st.ok()) return st.error();
  auto d = ReadBack(id);
  if (d.ok()) TellHandler(*d);
  return d;
}

Result<runtime::Job> Actions::RetryJob(std::string_view id) {
  if (Status st = queue_.Retry(id, NowSeconds()); !st.ok()) return st.error();
  auto job = queue_.Get(id);
  if (!job.ok()) return job.error();
  if (!job->has_value()) return MakeError(ErrorCode::kNotFound, "job " + std::string(id));
  return std::move(**job);
}

Result<runtime::Job> Actions::ParkJob(std::string_view id, std::string_view reason) {
  if (Status st = queue_.Park(id, reason, NowSeconds()); !st.ok()) return st.error();
  auto job = queue_.Get(id);
  if (!job.ok()) return job.error();
  if (!job->has_value()) return MakeError(ErrorCode::kNotFound, "job " + std::string(id));
  return std::move(**job);
}

}  // namespace threadmill::admin
