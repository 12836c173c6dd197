// decision.h - what threadmill decided about one message, and its mail-log line.
//
// DESCRIPTION
//   The milter turns a Decision into libmilter calls (headers to add, the verdict) and writes
//   log_line() once per message, keyed by the MTA queue id:
//     QUEUEID: direction=inbound from=<a@x> to=<b@y> msgid=<id> refs=2 thread=T...
//              match=in-reply-to parent=<id> decision=matched reason=
//   Keys always appear in this order; later stages append their own keys (auth verdicts,
//   handler routing) after these.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/verdicts.h"
#include "filter/envelope.h"
#include "mail/defects.h"
#include "store/records.h"
#include "thread/resolver.h"

namespace threadmill::filter {

// What the MTA hears.
enum class Verdict { kContinue, kTempfail, kReject };

// What threadmill made of the message (decision= in the log line).
enum class Outcome {
  kRecorded,   // outbound: recorded in its thread
  kMatched,    // inbound: answers a known thread
  kNewThread,  // inbound: starts a thread
  kQueued,     // inbound: handed to at least one handler
  kNoReply,    // inbound: no automatic reply may ever answer it (reason says why)
  kError,      // a store or internal failure (reason says which)
  // The store failed and [milter] on_store_error = accept: threading degraded (match=none
  // when the lookup failed, nothing recorded), reason=store; the message goes on, handlers
  // included when its route does not need the thread.
  kUnthreaded,
};
const char* ToString(Outcome outcome);  // "recorded", "matched", "new-thread", ...

struct SmtpReply {
  std::string code;      // "451", "550"
  std::string enhanced;  // "4.3.0"
  std::string text;
};

struct Decision {
  store::Direction direction = store::Direction::kInbound;
  std::string direction_why;
  std::string message_id;  // normalized; may be one threadmill generated
  bool message_id_added = false;
  size_t references = 0;
  thread::Resolution resolution;
  // The thread's owner as the record of this message left the thread (handoff.cc routes by
  // it without a second lookup); nullopt when the message was not stored now.
  std::optional<std::string> thread_owner;
  Outcome outcome = Outcome::kNewThread;
  std::string reason;           // why (no-reply, error, unthreaded), else empty
  bool store_failed = false;    // a thread lookup or record failed (reason=store)
  std::string no_reply_reason;  // inbound: why no automatic reply may ever answer it, or ""
  // inbound: MAIL FROM itself authenticated (reply_safety.h SenderAuthenticated)
  bool sender_authenticated = false;
  mail::Defects defects;
  Verdict verdict = Verdict::kContinue;
  SmtpReply smtp_reply;    // for kTempfail/kReject; empty = the milter's default text
  std::string quarantine;  // non-empty: ask the MTA to quarantine, with this reason
  std::vector<std::pair<std::string, std::string>> add_headers;     // appended at the end
  std::vector<std::pair<std::string, std::string>> insert_headers;  // inserted at the top
  std::vector<int> delete_auth_results;        // 1-based indexes of A-R fields to delete
  std::vector<std::string> delete_recipients;  // consumed by a handler route
  bool discard = false;                        // every recipient consumed

  // Authentication (lib/auth): the verdicts themselves, typed; the log line, the metrics and
  // the handlers' jobs all read them from here. Unset when authentication is off.
  std::optional<auth::Verdicts> verdicts;
  std::vector<std::pair<std::string, std::string>> extra_log;  // appended key=value pairs

  bool auth_checked() const { return verdicts.has_value(); }
  bool dmarc_passed() const { return verdicts && verdicts->DmarcPassed(); }
  // The summary results as RFC 8601 names ("none" when authentication is off).
  const char* dmarc_result() const;
  const char* spf_result() const;
  const char* dkim_result() const;

  // The decision line without the logger's prefix.
  std::string LogLine(const Envelope& envelope) const;
};

}  // namespace threadmill::filter
