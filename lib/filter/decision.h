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

#include <string>
#include <utility>
#include <vector>

#include "filter/envelope.h"
#include "mail/defects.h"
#include "store/records.h"
#include "thread/resolver.h"

namespace threadmill::filter {

// What the MTA hears.
enum class Verdict { kContinue, kTempfail };

struct Decision {
  store::Direction direction = store::Direction::kInbound;
  std::string direction_why;
  std::string message_id;        // normalized; may be one threadmill generated
  bool message_id_added = false;
  size_t references = 0;
  thread::Resolution resolution;
  std::string decision;          // recorded | matched | new-thread | no-reply | error
  std::string reason;            // why (no-reply and error), else empty
  mail::Defects defects;
  Verdict verdict = Verdict::kContinue;
  std::vector<std::pair<std::string, std::string>> add_headers;  // name, value (no lead space)
  std::vector<std::pair<std::string, std::string>> extra_log;    // appended key=value pairs

  // The decision line without the logger's prefix.
  std::string LogLine(const Envelope& envelope) const;
};

}  // namespace threadmill::filter
