// dkim_qp.h - checks the dkim-quoted-printable tags of a DKIM-Signature before libopendkim
// sees them.
//
// DESCRIPTION
//   libopendkim's dkim_qp_decode (2.11.0, as in Debian 12) reads past the end of its input
//   when a value ends in "=" or in "=" and one hex digit: the terminating NUL is taken for a
//   hex digit (strchr finds it) and the loop steps over it. dkim_eoh decodes the i= tag of
//   every signature that way (the identity must lie in d=), so a hostile DKIM-Signature
//   "...; i=a=" made the milter read heap memory beyond the field (found by valgrind on
//   fuzz_dkim). Such a value is not dkim-quoted-printable anyway; the verifier keeps the
//   field from libopendkim and reports the signature as permerror.
//
// STANDARDS
//   RFC 6376 section 2.11 (dkim-quoted-printable: hex-octet = "=" 2HEXDIG, with FWS
//   allowed between elements), section 3.5 (i= and z= are dkim-quoted-printable),
//   section 3.2 (tag-list).
//
// LIMITS
//   Only what libopendkim decodes is checked (i=, z=): every "=" must be followed by two hex
//   digits (either case, ABNF strings being case-insensitive) once FWS is removed. Other
//   characters are left to libopendkim's own checks.
#pragma once

#include <string_view>

namespace threadmill::auth {

// True when `value` (one tag's value) is safe for dkim_qp_decode: every "=" is followed by
// two hex digits, FWS aside.
bool IsDkimQuotedPrintable(std::string_view value);

// The name ("i" or "z") of the first tag of the DKIM-Signature field value `tag_list` whose
// value is not dkim-quoted-printable; "" when there is none.
std::string_view BadQuotedPrintableTag(std::string_view tag_list);

}  // namespace threadmill::auth
