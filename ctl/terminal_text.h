// terminal_text.h - text from the store made safe to print on an operator's terminal.
//
// DESCRIPTION
//   Subjects, message ids, addresses and handler errors in the store come from mail an
//   attacker wrote. Printed raw, their control characters (ESC sequences: window titles,
//   cursor moves, OSC 8 links, "clear screen") and bidi overrides reach the terminal of the
//   administrator. TerminalText escapes them: C0 controls and DEL as \xHH (\n and \t kept
//   in multi-line text, \t always), C1 controls (U+0080..U+009F), bidi controls (U+200E,
//   U+200F, U+202A..U+202E, U+2066..U+2069) and line/paragraph separators (U+2028, U+2029)
//   as \u{XXXX}, each byte of invalid UTF-8 as \xHH, and the backslash itself as \\ so the
//   output is unambiguous. Valid printable UTF-8 is kept.
//
// STANDARDS
//   ECMA-48 (C0/C1 control functions), RFC 3629 (UTF-8), Unicode UAX #9 (bidi controls).
//
// LIMITS
//   Does not judge confusable characters (homoglyphs) or zero-width characters other than
//   the bidi marks. JSON output (nlohmann, error handler "replace") needs no escaping here.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::ctl {

std::string TerminalText(std::string_view s, bool multiline = false);

}  // namespace threadmill::ctl
