// charset.h - conversion of mail text to UTF-8 (glibc iconv) and UTF-8 sanitizing.
//
// DESCRIPTION
//   ToUtf8 converts bytes labelled with a MIME charset to UTF-8. Labels are mapped the way
//   browsers do (WHATWG Encoding Standard): iso-8859-1, latin1 and us-ascii decode as
//   windows-1252, gb2312 as GBK, ks_c_5601-1987 as CP949, and so on, because mail labelled
//   latin1 routinely holds cp1252 quotes and dashes. Invalid sequences become U+FFFD, NUL
//   bytes are dropped. An unknown label decodes as UTF-8 (defect unknown-charset), and so
//   does a label with characters no charset name has (see CanonicalCharset): glibc would
//   strip or interpret them. Whatever iconv returns is validated again: every string
//   these functions return is valid UTF-8 (RFC 3629) without NUL.
//
// STANDARDS
//   RFC 2045/2046 (charset parameter), RFC 3629 (UTF-8), WHATWG Encoding Standard (labels).
//
// LIMITS
//   SanitizeUtf8 replaces each maximal invalid subpart by one U+FFFD (the WHATWG rule); in
//   iconv conversions each rejected byte becomes one U+FFFD. iconv descriptors are opened
//   per call (glibc caches its conversion modules, so this is cheap); thread-safe, no global
//   state. UTF-7 and other rarities are whatever glibc supports.
#pragma once

#include <string>
#include <string_view>

#include "mail/defects.h"

namespace threadmill::mail {

// True when s is valid UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Replaces invalid sequences with U+FFFD and drops NUL bytes.
std::string SanitizeUtf8(std::string_view s, Defects* defects = nullptr);

// Converts `bytes` in `charset` (a MIME label, case-insensitive, quotes tolerated) to UTF-8.
// An empty charset means UTF-8.
std::string ToUtf8(std::string_view bytes, std::string_view charset, Defects* defects = nullptr);

// For unlabelled 8-bit text (raw header bytes): kept when valid UTF-8, else windows-1252.
std::string Unlabelled8bitToUtf8(std::string_view bytes, Defects* defects = nullptr);

// The iconv name used for a MIME label ("latin1" -> "WINDOWS-1252", "utf8" -> "UTF-8");
// "" when the label is not one (characters outside RFC 2978 mime-charset plus ".:()",
// over 40 characters: "utf-8;", "UTF-8//IGNORE"). An empty label is "UTF-8".
std::string CanonicalCharset(std::string_view label);

// Appends the UTF-8 encoding of a code point (invalid ones as U+FFFD).
void AppendUtf8(std::string* out, char32_t cp);

}  // namespace threadmill::mail
