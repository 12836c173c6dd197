// addr_spec.h - normalizing the local@domain pairs of message ids and addresses.
//
// DESCRIPTION
//   Shared by msgid.cc and address.cc. NormalizeLocalPart de-quotes a quoted local part when
//   its content is dot-atom-safe ("john.doe" -> john.doe) and otherwise re-quotes it with
//   minimal escaping; NormalizeDomain lowercases ASCII letters (domain literals included).
//   The local part keeps its case.
//
// STANDARDS
//   RFC 5322 section 3.2.3 (atext, dot-atom), 3.2.4 (quoted strings), 3.4.1 (addr-spec),
//   3.6.4 (msg-id). RFC 6532 (UTF-8 in local parts) is tolerated: bytes >= 0x80 count as
//   atext.
//
// LIMITS
//   No IDNA conversion: U-labels stay as received (only ASCII is lowercased).
#pragma once

#include <string>
#include <string_view>

namespace threadmill::mail {

// RFC 5322 atext (plus 8-bit bytes, RFC 6532).
bool IsAtext(char c);

// True for dot-atom-text: atext runs separated by single dots, no dot at either end.
bool IsDotAtom(std::string_view s);

// `local` is the local part as written: either quoted ("...", quoted-pairs allowed) or not.
std::string NormalizeLocalPart(std::string_view local);

std::string NormalizeDomain(std::string_view domain);

// Joins both halves: "local@domain"; just `local` when domain is empty.
std::string JoinAddrSpec(std::string_view local, std::string_view domain);

}  // namespace threadmill::mail
