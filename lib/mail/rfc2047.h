// rfc2047.h - MIME encoded words in header text: decoding to UTF-8 and encoding.
//
// DESCRIPTION
//   DecodeEncodedWords turns "=?charset?B|Q?text?=" words into UTF-8. Whitespace between
//   two adjacent encoded words is dropped (RFC 2047 section 6.2), and the bytes of adjacent
//   words in the same charset are joined before conversion, so a multi-byte character split
//   across two words (common with B encoding) decodes right. The RFC 2231 language suffix
//   ("utf-8*en") is ignored. Invalid words are left as they are (defect bad-encoded-word);
//   text outside encoded words is taken as UTF-8, or windows-1252 when it is not valid UTF-8.
//
//   EncodeHeaderWord prepares UTF-8 text for a header such as Subject: ASCII text comes back
//   unchanged; other text becomes "=?UTF-8?B?...?=" or "=?UTF-8?Q?...?=" words (whichever
//   is shorter), no word over 75 characters, folded with CRLF SP so no line exceeds 78
//   characters counting "Name: " on the first line. Words never split a UTF-8 character.
//
// STANDARDS
//   RFC 2047 (encoded words), RFC 2231 section 5 (language in encoded words), RFC 5322 2.1.1
//   (line length).
//
// LIMITS
//   Encoded words inside quoted strings are decoded too (non-standard, common practice); the
//   caller decides where to call this. Encoded-text may not contain whitespace. Plain ASCII
//   text passed to EncodeHeaderWord is not folded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mail/defects.h"

namespace threadmill::mail {

std::string DecodeEncodedWords(std::string_view text, Defects* defects = nullptr);

std::string EncodeHeaderWord(std::string_view utf8, size_t field_name_len);

}  // namespace threadmill::mail
