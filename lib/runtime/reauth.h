// reauth.h - re-authenticating a job whose SPF/DMARC verdict was a DNS failure (temperror).
//
// DESCRIPTION
//   When DNS is down or slow during SMTP, DMARC (and SPF) end as temperror and the milter
//   still spools the routed message: its handler would then never be allowed to answer
//   (the reply rules want dmarc=pass and an authenticated MAIL FROM). Instead, before a
//   worker calls the handler, RunReauth looks at the job:
//     - NeedsReauth: dmarc=temperror, or spf=temperror while nothing authenticated MAIL FROM
//       (a DKIM temperror that could have changed DMARC already made DMARC temperror; one
//       that could not changes nothing for the reply gate, so it alone defers nothing);
//     - then the JobReauthenticator (filter/reauth.h: the milter's own Authenticator, same
//       resolver, SPF/DKIM/DMARC and alignment code) runs again over the spooled message
//       with the client address, HELO and MAIL FROM kept in the job;
//     - DNS answered: the job takes the new verdicts (dmarc, spf, dkim, sender_authenticated,
//       no_reply_reason), reauth=done, and the handler runs with them (reply gate included);
//     - DNS still failing and within [auth] reauth_window_seconds of the message's arrival:
//       kDefer - the job is queued again after reauth_retry_seconds without spending an
//       attempt (Outcome::kDefer), reauth=deferred;
//     - past the window (or no re-authenticator): reauth=expired, the handler runs on the
//       temperror verdict (the reply rules refuse: reason dmarc).
//   Log lines (key=value): the first deferral (warn), each further one (debug), the verdict
//   (reauth=done, info) or the end of the window (reauth=expired, warn).
//
// LIMITS
//   Each try costs up to [auth] message_dns_budget_ms of a worker's time while DNS is down;
//   it counts against [runtime] job_timeout_seconds (defaults 10 s and 60 s), so a budget
//   above the job time-out gets the worker killed and the job retried as a crash.
//   A sender whose own DNS keeps timing out (not ours) waits out the window the same way.
//   With trusted_authserv_ids, an upstream A-R that said temperror says so again: such a
//   job waits out the window. A job spooled by an older threadmill has no HELO: SPF for a
//   null sender then checks an empty HELO identity.
//
// THREADING
//   The installed factory is set once at start-up, before any worker is forked; workers
//   (single-threaded) call the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "runtime/job.h"

namespace threadmill::runtime {

// What authentication says now (RFC 8601 result names, as in Job).
struct ReauthVerdict {
  std::string dmarc = "none";
  std::string spf = "none";
  std::string dkim = "none";
  bool sender_authenticated = false;  // filter/reply_safety.h SenderAuthenticated
  std::string error;                  // set: nothing could be evaluated (kept as temperror)
};

class JobReauthenticator {
 public:
  virtual ~JobReauthenticator() = default;
  // SPF/DKIM/DMARC for `job` over its spooled message `raw` (headers CRLF, blank line, body).
  // Blocks at most the message DNS budget.
  virtual ReauthVerdict Reauthenticate(const Job& job, std::string_view raw) = 0;
};

// Makes the re-authenticator of a worker (null or a throw: none). Lives above lib/runtime
// (filter/reauth.h), hence installed by the program instead of called.
using ReauthFactory =
    std::function<std::unique_ptr<JobReauthenticator>(const config::AuthConfig& auth)>;
void InstallReauthFactory(ReauthFactory factory);
const ReauthFactory& InstalledReauthFactory();

// True when the job's verdict waits for DNS (see file comment). Pure.
bool NeedsReauth(const Job& job);
// Copies `verdict` into `job`; an "unauthenticated-sender" no_reply_reason follows the new
// sender_authenticated (the last of NoReplyReason's reasons, so the others stand). Pure.
void ApplyReauth(const ReauthVerdict& verdict, Job* job);

enum class ReauthStep { kProceed, kDefer };
// The worker's step before the handler (file comment). `reauth` may be null. Updates `job`
// (verdicts, reauth) and logs; the caller stores the job when job->reauth changed.
ReauthStep RunReauth(Job* job, std::string_view raw, JobReauthenticator* reauth,
                     const config::AuthConfig& auth, int64_t now);

}  // namespace threadmill::runtime
