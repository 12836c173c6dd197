#include "web/rate_limiter.h"

namespace threadmill::web {

void RateLimiter::Trim(std::deque<int64_t>& times, int64_t now) const {
  while (!times.empty() && times.front() <= now - 60) times.pop_front();
}

bool RateLimiter::Allowed(std::string_view key, int64_t now) {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return true;
  Trim(it->second, now);
  if (it->second.empty()) {
    failures_.erase(it);
    return true;
  }
  return static_cast<int64_t>(it->second.size()) < per_minute_;
}

void RateLimiter::Failed(std::string_view key, int64_t now) {
  std::lock_guard lock(mutex_);
  if (failures_.size() >= kMaxKeys) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      Trim(it->second, now);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= kMaxKeys) failures_.erase(failures_.begin());
  }
  auto& times = failures_[std::string(key)];
  Trim(times, now);
  times.push_back(now);
}

}  // namespace threadmill::web
