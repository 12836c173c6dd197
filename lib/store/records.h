// records.h - the records of the thread store and their serialization.
//
// DESCRIPTION
//   MessageRecord (one Message-ID seen by threadmill) and ThreadRecord (one conversation)
//   are stored as compact JSON objects with a version field "v", so `mdb_dump -p` shows
//   them readably. Decoding ignores unknown fields and tolerates missing ones (defaults),
//   so newer writers and older readers can share an environment within one major schema.
//
// LIMITS
//   JSON strings must be UTF-8: invalid bytes in free-text fields (subject, from, to, ...)
//   are stored as U+FFFD. The store never relies on the msgid inside the JSON: it restores
//   the exact bytes from the database key. Decode errors are kStore (a corrupt record).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace threadmill::store {

inline constexpr int kRecordVersion = 1;
inline constexpr size_t kMaxRecentMsgids = 20;
inline constexpr size_t kMaxParticipants = 50;
inline constexpr size_t kMaxThreadIndexRoots = 8;

enum class Direction { kInbound, kOutbound };

// "inbound" / "outbound". Pure.
const char* ToString(Direction direction);

struct MessageRecord {
  std::string msgid;      // normalized, without <>
  std::string thread_id;  // filled by ThreadStore::RecordMessage when empty
  Direction direction = Direction::kInbound;
  std::string owner;  // handler name or ""
  int64_t time = 0;   // unix seconds
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string parent;  // matched earlier msgid or ""
  std::string queue_id;
  std::string thread_index;  // its Outlook Thread-Index in hex, or "" (resolver.h parents)
  // How the milter put it in its thread (thread::ToString(MatchMethod): "in-reply-to",
  // "references", "thread-index", "token"), "" when it started one or was recorded
  // before it passed the milter (a reply, until its echo).
  std::string match;

  bool operator==(const MessageRecord&) const = default;
};

struct ThreadRecord {
  std::string thread_id;
  int64_t created = 0;
  int64_t updated = 0;
  std::string owner;
  std::string subject;
  uint64_t message_count = 0;                   // messages currently stored for the thread
  std::vector<std::string> recent_msgids;       // newest last, at most kMaxRecentMsgids
  std::vector<std::string> participants;        // first kMaxParticipants addresses seen
  std::vector<std::string> thread_index_roots;  // Outlook roots mapped to this thread

  bool operator==(const ThreadRecord&) const = default;
};

// Serialization. Thread-safe, pure; Decode* never throw.
std::string EncodeMessage(const MessageRecord& rec);
Result<MessageRecord> DecodeMessage(std::string_view json);
std::string EncodeThread(const ThreadRecord& rec);
Result<ThreadRecord> DecodeThread(std::string_view json);

}  // namespace threadmill::store
