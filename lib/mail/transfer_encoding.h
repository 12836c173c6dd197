// transfer_encoding.h - base64 and quoted-printable codecs for bodies and encoded words.
//
// DESCRIPTION
//   Lenient decoders used for MIME bodies (Content-Transfer-Encoding), RFC 2047 encoded
//   words and Thread-Index: they skip line breaks and whitespace, record defects for other
//   junk, and always return what they could decode. Encoders are strict.
//
// STANDARDS
//   RFC 2045 section 6.7 (quoted-printable) and 6.8 (base64), RFC 4648 (base64 alphabet),
//   RFC 2047 section 4.2 (the "Q" variant: '_' is a space).
//
// LIMITS
//   Base64 decoding stops at the first '=' pad of a quantum and then ignores the rest only if
//   it is padding/whitespace (else defect bad-base64, decoding continues: some mailers
//   concatenate base64 blocks). Missing padding is accepted. Linear time.
#pragma once

#include <string>
#include <string_view>

#include "mail/defects.h"

namespace threadmill::mail {

std::string Base64Decode(std::string_view in, Defects* defects = nullptr);
std::string Base64Encode(std::string_view in);

// Body quoted-printable (soft line breaks "=\r\n" / "=\n" removed). With q_encoding, the
// RFC 2047 "Q" form: '_' decodes to a space.
std::string QuotedPrintableDecode(std::string_view in, bool q_encoding = false,
                                  Defects* defects = nullptr);

}  // namespace threadmill::mail
