// pg_recent_messages.cc - see pg_recent_messages.h.
#include "store/postgresql/pg_recent_messages.h"

namespace threadmill::store::pg {

void RecentMessages::Remember(const MessageRecord& rec, int64_t now) {
  if (!enabled_ || rec.msgid.empty() || !Young(rec.time, now)) return;
  // A reinjected reply before its echo: the echo changes its row (queue id), so no copy.
  if (rec.direction == Direction::kOutbound && rec.queue_id.empty()) return;
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kCapacity) entries_.clear();
  entries_.insert_or_assign(rec.msgid, Entry{rec, now});
}

std::optional<MessageRecord> RecentMessages::Recall(std::string_view msgid, int64_t now) const {
  if (!enabled_) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(msgid));
  if (it == entries_.end()) return std::nullopt;
  const Entry& e = it->second;
  if (!Young(e.stored_at, now) || !Young(e.record.time, now)) return std::nullopt;
  return e.record;
}

void RecentMessages::Clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

}  // namespace threadmill::store::pg
