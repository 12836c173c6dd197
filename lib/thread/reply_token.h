// reply_token.h - signed reply addresses: LOCAL+TOKEN@domain names a thread (issue 11).
//
// DESCRIPTION
//   A token binds a thread id to an expiry day with HMAC-SHA256 (RFC 2104, FIPS 180-4) under
//   a site key, so a reply written as a new message to the address (no In-Reply-To, no
//   References) can still be put in its thread. The token is 40 characters of lowercase
//   Crockford base32: the 20 characters of the thread id after its leading 'T', the expiry
//   day (days since 1970-01-01 UTC) in 4 characters, and the first 80 bits of the MAC over
//   "threadmill-reply-token-v1|" + thread id + "|" + expiry day, in 16 characters. Decoding is
//   case-insensitive (MTAs may fold the local part). Keys rotate: the first key signs, every
//   key verifies, so tokens signed by an older key stay valid until they expire.
//
//   Key files hold the raw key bytes (trailing white space ignored, at least 16 bytes); a
//   file that is group or world accessible is refused when threadmill starts.
//
// BUGS
//   Only thread ids of store::ThreadStore::NewThreadId's form ("T" + 20 Crockford digits)
//   can be put in a token; other ids get no token. An 80-bit MAC: forging one takes about
//   2^80 guesses. A token names a thread, not a message: the envelope's parent is empty.
//   Expiry has one-day granularity (the day the token stops verifying).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::thread {

inline constexpr size_t kReplyTokenChars = 40;
inline constexpr size_t kMinReplyTokenKeyBytes = 16;

class ReplyTokenKeys {
 public:
  ReplyTokenKeys() = default;
  explicit ReplyTokenKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  // Reads every file (the first signs); an error names the file: missing, unreadable, group
  // or world accessible, or shorter than kMinReplyTokenKeyBytes.
  static Result<ReplyTokenKeys> Load(const std::vector<std::string>& files);
  bool empty() const { return keys_.empty(); }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  std::vector<std::string> keys_;
};

enum class TokenCheck { kValid, kInvalid, kExpired };
const char* ToString(TokenCheck check);

struct TokenResult {
  TokenCheck check = TokenCheck::kInvalid;
  std::string thread_id;  // set when kValid
};

// The token for `thread_id`, valid through day `today + lifetime_days`; nullopt when there
// is no key or the thread id has another form.
std::optional<std::string> MakeReplyToken(const ReplyTokenKeys& keys, std::string_view thread_id,
                                          int64_t today, int64_t lifetime_days);

// Checks a token against every key. Malformed, altered or forged: kInvalid. A correctly
// signed token whose expiry day is before `today`: kExpired.
TokenResult CheckReplyToken(const ReplyTokenKeys& keys, std::string_view token, int64_t today);

// Days since 1970-01-01 UTC of a unix time.
int64_t DayOf(int64_t unix_seconds);

// The token in a recipient address "local+TOKEN@domain" (the text after the last '+' in the
// local part, when it has exactly kReplyTokenChars characters), or "".
std::string_view TokenOfAddress(std::string_view address);

// "local+token@domain" from an address "local@domain" (an existing +detail is replaced).
std::string AddressWithToken(std::string_view address, std::string_view token);

}  // namespace threadmill::thread
