#include "thread/reply_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "common/ascii.h"
#include "common/secret_file.h"

namespace threadmill::thread {
namespace {

constexpr char kDigits[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford, lowercase
constexpr size_t kIdChars = 20, kDayChars = 4, kMacChars = 16;
constexpr size_t kMacBytes = kMacChars * 5 / 8;  // 80 bits

int DigitValue(char c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (int i = 0; i < 32; ++i) {
    if (kDigits[i] == c) return i;
  }
  return -1;
}

// The 80-bit MAC under `key`, in 16 base32 digits.
std::string Mac(const std::string& key, std::string_view thread_id, int64_t day) {
  std::string data = "threadmill-reply-token-v1|";
  data.append(thread_id);
  data += "|" + std::to_string(day);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < kMacBytes; ++i) {
    acc = (acc << 8) | md[i];
    bits += 8;
    while (bits >= 5) {
      out += kDigits[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

}  // namespace

Result<ReplyTokenKeys> ReplyTokenKeys::Load(const std::vector<std::string>& files) {
  std::vector<std::string> keys;
  for (const std::string& file : files) {
    auto key = ReadSecretFile(file, kMinReplyTokenKeyBytes);
    if (!key.ok()) return MakeError(key.error().code, "token " + key.error().message);
    keys.push_back(std::move(*key));
  }
  return ReplyTokenKeys(std::move(keys));
}

const char* ToString(TokenCheck check) {
  switch (check) {
    case TokenCheck::kValid:
      return "token-valid";
    case TokenCheck::kInvalid:
      return "token-invalid";
    case TokenCheck::kExpired:
      return "token-expired";
  }
  return "token-invalid";
}

int64_t DayOf(int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
}

std::optional<std::string> MakeReplyToken(const ReplyTokenKeys& keys, std::string_view thread_id,
                                          int64_t today, int64_t lifetime_days) {
  if (keys.empty() || thread_id.size() != 1 + kIdChars || thread_id[0] != 'T') return std::nullopt;
  for (char c : thread_id.substr(1)) {
    if (DigitValue(c) < 0 || (c >= 'a' && c <= 'z')) return std::nullopt;  // upper case only
  }
  int64_t expiry = today + lifetime_days;
  if (expiry < 0 || expiry >= (int64_t{1} << (5 * kDayChars))) return std::nullopt;
  std::string token = ascii::ToLower(thread_id.substr(1));
  for (int i = kDayChars - 1; i >= 0; --i) token += kDigits[(expiry >> (5 * i)) & 31];
  token += Mac(keys.keys().front(), thread_id, expiry);
  return token;
}

TokenResult CheckReplyToken(const ReplyTokenKeys& keys, std::string_view token, int64_t today) {
  TokenResult result;
  if (token.size() != kReplyTokenChars) return result;
  int64_t expiry = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    int v = DigitValue(token[i]);
    if (v < 0) return result;
    if (i >= kIdChars && i < kIdChars + kDayChars) expiry = expiry * 32 + v;
  }
  std::string thread_id = "T" + ascii::ToLower(token.substr(0, kIdChars));
  for (char& c : thread_id) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  std::string mac = ascii::ToLower(token.substr(kIdChars + kDayChars));
  bool signed_ok = false;
  for (const std::string& key : keys.keys()) {
    std::string want = Mac(key, thread_id, expiry);
    if (CRYPTO_memcmp(want.data(), mac.data(), kMacChars) == 0) signed_ok = true;
  }
  if (!signed_ok) return result;
  if (expiry < today) {
    result.check = TokenCheck::kExpired;
    return result;
  }
  result.check = TokenCheck::kValid;
  result.thread_id = std::move(thread_id);
  return result;
}

std::string_view TokenOfAddress(std::string_view address) {
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  size_t at = address.rfind('@');
  std::string_view local = address.substr(0, at == std::string_view::npos ? address.size() : at);
  size_t plus = local.rfind('+');
  if (plus == std::string_view::npos) return {};
  std::string_view token = local.substr(plus + 1);
  return token.size() == kReplyTokenChars ? token : std::string_view();
}

std::string AddressWithToken(std::string_view address, std::string_view token) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return std::string(address);
  std::string_view local = address.substr(0, at);
  if (size_t plus = local.find('+'); plus != std::string_view::npos) local = local.substr(0, plus);
  return std::string(local) + "+" + std::string(token) + std::string(address.substr(at));
}

}  // namespace threadmill::thread
