// excerpt.h - the start of an untrusted text (a program's stderr, an HTTP body, a config value)
// made safe for one log line.
//
// DESCRIPTION
//   Excerpt keeps the first `max` bytes, shows control characters (C0 and DEL) as spaces so the
//   text cannot start a new log line, and appends "..." when it cut something.
//
// LIMITS
//   The cut is by bytes and may split a UTF-8 sequence; the log shows it as one bad character.
#pragma once

#include <cstddef>
#include <string>

namespace threadmill::handlers::common {

std::string Excerpt(const std::string& s, size_t max = 300);

}  // namespace threadmill::handlers::common
