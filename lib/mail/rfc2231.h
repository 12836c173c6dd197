// rfc2231.h - MIME header values with parameters (Content-Type, Content-Disposition).
//
// DESCRIPTION
//   ParseParameters splits "type/subtype; name=value; ..." into the lowercased main value and
//   its parameters (names lowercased, values decoded to UTF-8). It handles quoted strings
//   with quoted-pairs, comments, RFC 2231 continuations (name*0=, name*1*=), charset and
//   language (name*=utf-8'en'%E2%82%AC.pdf) and, as Outlook and Thunderbird send it, RFC 2047
//   encoded words inside quoted values (name="=?UTF-8?B?...?="). An extended name* wins over
//   a plain name of the same parameter.
//
// STANDARDS
//   RFC 2045 section 5.1 (parameters), RFC 2231 (continuations, charset, language),
//   RFC 2183 (Content-Disposition), RFC 2047 (tolerated inside quoted values).
//
// LIMITS
//   Unquoted values run to the next ';' (so unquoted names with spaces survive), but lose
//   parenthesized text, which is a comment there. Raw 8-bit
//   values are UTF-8 or else windows-1252. Continuation numbers above 999 are ignored
//   (defect bad-parameter); missing sections are skipped. Caps (defect when hit), fixed
//   because no real mail comes near them: a value is parsed up to kMaxParameterValueBytes
//   (header-too-long); at most kMaxMimeParameters distinct parameters are returned, at most
//   4x that many name=value pieces (continuation sections) and 16x that many ';'-separated
//   pieces are read (truncated). Linear time in the size of the value.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mail/defects.h"

namespace threadmill::mail {

inline constexpr size_t kMaxMimeParameters = 64;
inline constexpr size_t kMaxParameterValueBytes = 64 * 1024;

struct ParameterizedValue {
  std::string value;  // e.g. "text/plain" or "attachment", lowercased, trimmed
  std::vector<std::pair<std::string, std::string>> params;  // name lowercased, value UTF-8
  Defects defects;

  // The parameter's value, "" when absent.
  std::string Get(std::string_view name) const;
  bool Has(std::string_view name) const;
};

ParameterizedValue ParseParameters(std::string_view header_value);

}  // namespace threadmill::mail
