// rate_limiter.h - login attempts per key (user name, client address) in a sliding minute.
//
// DESCRIPTION
//   Failed() records a failed login for a key; Allowed() is false while a key has
//   `per_minute` or more failures in the last 60 seconds. The console checks the user name
//   and the client address before verifying a password, so a guesser is stopped before the
//   (deliberately slow) argon2id check, and a successful login does not count.
//
// THREADING
//   Thread-safe (one mutex). Memory: at most kMaxKeys keys (oldest dropped).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace threadmill::web {

class RateLimiter {
 public:
  explicit RateLimiter(int64_t per_minute) : per_minute_(per_minute) {}

  bool Allowed(std::string_view key, int64_t now);
  void Failed(std::string_view key, int64_t now);

  static constexpr size_t kMaxKeys = 100000;

 private:
  void Trim(std::deque<int64_t>& times, int64_t now) const;

  int64_t per_minute_;
  std::mutex mutex_;
  std::map<std::string, std::deque<int64_t>, std::less<>> failures_;
};

}  // namespace threadmill::web
