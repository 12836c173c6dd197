// html_text.h - plain text from an HTML mail body.
//
// DESCRIPTION
//   HtmlToText reduces HTML (already converted to UTF-8) to readable text for reply
//   handling: script, style, head and title content and comments are dropped, block elements
//   (p, div, br, li, tr, h1-h6, blockquote, table, hr, pre, ...) become line breaks, entities
//   are decoded (named ones mail uses, decimal and hex numeric), runs of blanks collapse to
//   one space, blank lines to one empty line, and lines are trimmed.
//
// STANDARDS
//   HTML Living Standard, loosely: this is a linear tag scanner, not an HTML parser.
//
// LIMITS
//   No CSS (display:none text is kept), no tables layout, only a common subset of named
//   entities (unknown ones are kept literally), <pre> whitespace is collapsed too. Unclosed
//   tags or comments swallow the rest of the input, as browsers do. Linear time.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::mail {

std::string HtmlToText(std::string_view html);

}  // namespace threadmill::mail
