// reauth.cc - see reauth.h.
#include "runtime/reauth.h"

#include "log/kv_line.h"
#include "log/logger.h"

namespace threadmill::runtime {
namespace {

ReauthFactory& Factory() {
  static ReauthFactory factory;
  return factory;
}

log::KvLine JobLine(const Job& job, std::string_view step) {
  log::KvLine line;
  line.Add("job", job.id)
      .Add("handler", job.handler)
      .Add("queue_id", job.queue_id)
      .Add("reauth", step)
      .Add("dmarc", job.dmarc)
      .Add("spf", job.spf)
      .Add("dkim", job.dkim);
  return line;
}

}  // namespace

void InstallReauthFactory(ReauthFactory factory) { Factory() = std::move(factory); }
const ReauthFactory& InstalledReauthFactory() { return Factory(); }

bool NeedsReauth(const Job& job) {
  return job.dmarc == "temperror" || (job.spf == "temperror" && !job.sender_authenticated);
}

void ApplyReauth(const ReauthVerdict& v, Job* job) {
  job->dmarc = v.dmarc;
  job->spf = v.spf;
  job->dkim = v.dkim;
  job->sender_authenticated = v.sender_authenticated;
  if (v.sender_authenticated && job->no_reply_reason == "unauthenticated-sender") {
    job->no_reply_reason.clear();
  } else if (!v.sender_authenticated && job->no_reply_reason.empty()) {
    job->no_reply_reason = "unauthenticated-sender";
  }
}

ReauthStep RunReauth(Job* job, std::string_view raw, JobReauthenticator* reauth,
                     const config::AuthConfig& auth, int64_t now) {
  if (job->reauth == "done" || job->reauth == "expired" || !NeedsReauth(*job)) {
    return ReauthStep::kProceed;
  }
  int64_t waited = now - job->received_time;
  std::string error = !auth.enabled ? "authentication off"
                      : !reauth     ? "no re-authenticator in this worker"
                                    : "";
  if (error.empty()) {
    ReauthVerdict verdict = reauth->Reauthenticate(*job, raw);
    Job fresh = *job;
    if (verdict.error.empty()) ApplyReauth(verdict, &fresh);
    error = verdict.error.empty() && NeedsReauth(fresh) ? "dns" : verdict.error;
    if (error.empty()) {
      *job = std::move(fresh);
      job->reauth = "done";
      log::KvLine line = JobLine(*job, "done");
      line.Add("sender_auth", job->sender_authenticated ? "yes" : "no")
          .Add("noreply", job->no_reply_reason)
          .Add("waited_s", waited);
      log::Get().info("{}", line.str());
      return ReauthStep::kProceed;
    }
  }
  int64_t window_left = job->received_time + auth.reauth_window_seconds - now;
  if (reauth && auth.enabled && window_left > 0) {
    bool first = job->reauth != "deferred";
    job->reauth = "deferred";
    log::KvLine line = JobLine(*job, "deferred");
    line.Add("reason", error)
        .Add("retry_in_s", auth.reauth_retry_seconds)
        .Add("window_left_s", window_left);
    if (first) {
      log::Get().warn("{}", line.str());
    } else {
      log::Get().debug("{}", line.str());
    }
    return ReauthStep::kDefer;
  }
  job->reauth = "expired";
  log::KvLine line = JobLine(*job, "expired");
  line.Add("reason", error)
      .Add("waited_s", waited)
      .Add("window_s", auth.reauth_window_seconds)
      .Add("result", "temperror verdict stands, no automatic reply");
  log::Get().warn("{}", line.str());
  return ReauthStep::kProceed;
}

}  // namespace threadmill::runtime
