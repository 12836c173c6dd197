// pg_recent_messages.h - the messages this process stored in the shared database in the last
// few minutes, so that a reply to one of them is threaded without a lookup round trip.
//
// DESCRIPTION
//   An answer often reaches the host its question left through (one MX host, or the same one
//   of several), minutes later. PgThreadBackend::FindMessage answers such a Message-ID from
//   here; the reply's record then costs its one compare-and-swap statement only
//   (pg_thread_backend.h), 1 round trip instead of 2.
//
//   Only exact copies are kept: a message record is written once and never changed, except a
//   reinjected reply's (outbound, no queue id yet), whose outbound echo adds the queue id
//   (pg_thread_backend.cc RecordKnown); those are never kept. Rows are removed only by the
//   retention sweep, which removes messages older than [store] retention_days: a record is
//   answered only while both its `time` and its storing lie within kMaxAgeSeconds of now, and
//   only when the retention is at least twice that (retention_days >= 1 always is), so a row
//   any host's sweep may have removed is never answered from memory. The sweep of this
//   process forgets everything anyway. Hosts need synchronized clocks (README, "Several MX
//   hosts") for this as for leases.
//
// THREADING
//   Thread-safe (one mutex; a milter process serves one thread per SMTP session).
//
// LIMITS
//   At most kCapacity records (about 1 KB each); when full, it is emptied (the next lookups
//   pay their round trip again). Each process has its own (never shared across fork: a new
//   PgThreadBackend is made in the child, pg_process_backends.h). The retention counted is the
//   one the store was opened with: a reload that sets retention_days to 0 applies here at the
//   next start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/records.h"

namespace threadmill::store::pg {

class RecentMessages {
 public:
  static constexpr int64_t kMaxAgeSeconds = 300;
  static constexpr size_t kCapacity = 4096;

  // retention_seconds: [store] retention_days in seconds; below 2 * kMaxAgeSeconds (0 too)
  // nothing is kept.
  explicit RecentMessages(int64_t retention_seconds)
      : enabled_(retention_seconds >= 2 * kMaxAgeSeconds) {}

  bool enabled() const { return enabled_; }

  // `rec` was just stored by this process (not found stored already) at `now` (unix seconds).
  void Remember(const MessageRecord& rec, int64_t now);
  // The record of `msgid` if remembered and still young enough at `now`.
  std::optional<MessageRecord> Recall(std::string_view msgid, int64_t now) const;
  void Clear();

 private:
  struct Entry {
    MessageRecord record;
    int64_t stored_at = 0;
  };
  static bool Young(int64_t t, int64_t now) { return t > now - kMaxAgeSeconds && t <= now; }

  const bool enabled_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace threadmill::store::pg
