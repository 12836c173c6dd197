// base64.h - standard base64 (RFC 4648 section 4, with padding) for the bridge protocol: bytes
// that JSON strings cannot carry (attachments, the raw message, non-UTF-8 KV values).
//
// LIMITS
//   Decoding accepts only the standard alphabet with correct padding; whitespace and the
//   URL-safe alphabet (section 5) are refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace threadmill::handlers::common {

std::string Base64Encode(std::string_view bytes);

// The decoded bytes, or std::nullopt when `text` is not canonical padded base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace threadmill::handlers::common
