#include "web/sessions.h"

#include <sodium.h>

#include <cstdlib>
#include <vector>

namespace threadmill::web {

std::string RandomToken(size_t bytes) {
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe to do
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  sodium_memzero(raw.data(), raw.size());
  return hex;
}

bool TokensEqual(std::string_view a, std::string_view b) {
  if (a.empty() || a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Session SessionStore::Create(const std::string& user, int64_t now) {
  Session s;
  s.id = RandomToken();
  s.csrf = RandomToken();
  s.user = user;
  s.expires = now + lifetime_;
  std::lock_guard lock(mutex_);
  SweepLocked(now);
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> SessionStore::Find(std::string_view id, int64_t now) {
  std::lock_guard lock(mutex_);
  SweepLocked(now);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  Session out = it->second;
  it->second.flash.clear();
  return out;
}

void SessionStore::Remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) sessions_.erase(it);
}

void SessionStore::SetFlash(std::string_view id, std::string flash) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.flash = std::move(flash);
}

void SessionStore::SweepLocked(int64_t now) {
  if (now - last_sweep_ < 60) return;
  last_sweep_ = now;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace threadmill::web
