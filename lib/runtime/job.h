// job.h - one durable handler job: an inbound message for one handler and one recipient.
//
// DESCRIPTION
//   A Job is stored in the `spool` database (job id -> JSON) and its raw message in
//   <store>/spool/<job id>.eml. States: queued (waiting for next_try), running (handed to a
//   worker; attempts already counted), parked (gave up: max_attempts reached, the handler
//   asked for it, or an operator parked it), done (finished; kept done_retention_seconds
//   for `threadmillctl queue`, its message file removed).
//   Job ids are "J" + 20 base32 characters ordered by creation time, so the spool database
//   is scanned oldest first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace threadmill::runtime {

enum class JobState { kQueued, kRunning, kParked, kDone };
const char* ToString(JobState state);
bool ParseJobState(std::string_view text, JobState* out);

struct Job {
  std::string id;
  std::string handler;
  JobState state = JobState::kQueued;
  uint32_t attempts = 0;  // deliveries started so far
  int64_t next_try = 0;   // unix seconds
  int64_t created = 0;
  int64_t updated = 0;
  std::string last_error;  // reason of the last failed attempt / park
  // Envelope, as the milter saw it.
  std::string mail_from;  // "" = null sender
  std::string recipient;  // the local recipient (user_id)
  std::string client_addr;
  std::string helo;  // HELO/EHLO as given: with client_addr and mail_from, what SPF needs again
  std::string queue_id;
  std::string message_id;  // normalized, without <>
  std::string thread_id;
  std::string thread_owner;
  std::string parent_message_id;  // normalized, without <>; "" when the match names none
  bool thread_known = false;
  uint32_t references_count = 0;
  std::string dmarc = "none";
  std::string spf = "none";
  std::string dkim = "none";
  std::string no_reply_reason;
  // MAIL FROM itself authenticated, as the milter decided (filter/reply_safety.h)
  bool sender_authenticated = false;
  // Re-authentication after a DNS failure (reauth.h): "" (not needed or not yet tried),
  // "deferred" (DNS still failing, waiting), "done" (verdicts above are the new ones),
  // "expired" (the window passed: the temperror verdict stands).
  std::string reauth;
  bool arc_override = false;  // dmarc=fail overridden by a trusted ARC sealer (auth/arc_policy.h)
  std::string route;  // why it was routed ("route:PATTERN", "thread-owner")
  int64_t received_time = 0;
  uint64_t size = 0;     // bytes of the spooled message
  std::string file;      // path of the spooled message
  std::string kind;      // "" = an inbound message; "draft-decision" (runtime/drafts.h)
  std::string draft_id;  // the draft a draft-decision job is about
  // Not stored: set by JobQueue::ClaimDue when this claim took the job over from another
  // host whose lease expired (that host's id, store/host_id.h).
  std::string taken_from;

  bool operator==(const Job&) const = default;
};

std::string EncodeJob(const Job& job);
Result<Job> DecodeJob(std::string_view json);

// A new job id (see file comment). Thread-safe.
std::string NewJobId();

// Seconds to wait before attempt `attempts + 1`: initial * 2^(attempts-1), capped. Pure.
int64_t RetryDelay(uint32_t attempts, int64_t initial, int64_t max);

}  // namespace threadmill::runtime
