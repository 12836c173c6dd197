// signature.h - the X-Threadmill-Signature value for a webhook request body.
//
// STANDARDS
//   RFC 2104 (HMAC) with SHA-256 (FIPS 180-4), via OpenSSL's libcrypto.
//
// DESCRIPTION
//   Signature(secret, body) is "sha256=" followed by the lower-case hex HMAC-SHA256 of the
//   exact request body bytes under the shared secret. A receiver recomputes it over the raw
//   body it read and compares in constant time.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::handlers::webhook {

// "sha256=<64 hex digits>", or "" if libcrypto failed.
std::string Signature(std::string_view secret, std::string_view body);

}  // namespace threadmill::handlers::webhook
