// display_text.h - makes hostile message text safe to show as text in a page.
//
// DESCRIPTION
//   Applied to every string from mail or the store before the template escapes it for HTML
//   (kainjow mustache's {{ }} escapes & < > " '). What an HTML escape cannot neutralise is
//   made visible instead of obeyed:
//     - C0 control characters (ESC of terminal sequences, NUL, BEL, ...) and DEL become their
//       Unicode control pictures (ESC -> U+241B "␛"); tab stays; CR LF / LF stay in multi-line
//       text and become "␤" (U+2424) in one-line text;
//     - C1 controls (U+0080-U+009F) and the bidirectional controls (U+061C, U+200E, U+200F,
//       U+202A-U+202E, U+2066-U+2069) become "[U+202E]" — an RTL override cannot reorder the
//       page;
//     - bytes that are not UTF-8 become U+FFFD.
//   Text is never interpreted as HTML: "<script>", "javascript:" and "&amp;" stay as text.
//
// STANDARDS
//   RFC 3629 (UTF-8), Unicode UAX #9 (bidirectional controls).
//
// LIMITS
//   Output is at most max_bytes, cut before a whole shown character (never inside "[U+202E]"),
//   plus the 3 bytes of the "…" appended when cut. Fuzzed by tests/fuzz/display_text_fuzz.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace threadmill::web {

std::string DisplayText(std::string_view text, bool multiline = false, size_t max_bytes = 1 << 20);

}  // namespace threadmill::web
