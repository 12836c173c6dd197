// sessions.h - threadmill-web's login sessions and their CSRF tokens (in memory).
//
// DESCRIPTION
//   A session id and its CSRF token are 32 random bytes each (libsodium randombytes_buf),
//   hex-encoded. The id travels only in the HttpOnly, SameSite=Strict cookie; the token only
//   in the hidden `csrf` field of every form, and is compared in constant time. A session
//   lasts [web] session_minutes from login (not extended). Sessions are in memory: a restart
//   logs everybody out. Before login, a "pre-session" cookie carries the login form's token
//   (double submit), so the login form is protected from cross-site posts too.
//
// THREADING
//   Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace threadmill::web {

// 2 * bytes hex characters from randombytes_buf.
std::string RandomToken(size_t bytes = 32);
// Constant-time equality; false when the sizes differ or either is empty.
bool TokensEqual(std::string_view a, std::string_view b);

struct Session {
  std::string id;
  std::string csrf;
  std::string user;
  int64_t expires = 0;  // unix seconds
  std::string flash;    // shown once on the next page
};

class SessionStore {
 public:
  explicit SessionStore(int64_t lifetime_seconds) : lifetime_(lifetime_seconds) {}

  Session Create(const std::string& user, int64_t now);
  // The live session with this id (expired ones are removed).
  std::optional<Session> Find(std::string_view id, int64_t now);
  void Remove(std::string_view id);
  // Sets the one-shot message of a session; Find returns it once and clears it.
  void SetFlash(std::string_view id, std::string flash);
  int64_t lifetime() const { return lifetime_; }

 private:
  void SweepLocked(int64_t now);

  int64_t lifetime_;
  std::mutex mutex_;
  std::map<std::string, Session, std::less<>> sessions_;
  int64_t last_sweep_ = 0;
};

}  // namespace threadmill::web
