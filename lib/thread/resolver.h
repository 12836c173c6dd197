// resolver.h - decides which thread a message belongs to.
//
// DESCRIPTION
//   Looks a message's parents up in the thread store, newest first: In-Reply-To (from its last
//   id), then References from the end, then the Outlook Thread-Index root. The first known
//   parent gives the thread; otherwise the message starts a new one. A Thread-Index match
//   names as parent the thread's recent message (store::kMaxRecentMsgids) with the longest
//   recorded Thread-Index that is a proper prefix of this one ([MS-OXOMSG] 2.2.1.3: each
//   reply appends a 5-byte block to its parent's index). The message's own id is
//   never its own parent. Last, when the headers name nothing known, a signed reply token in
//   the recipient address (reply_token.h), already checked by the caller, names the thread
//   (match=token, no parent) when that thread is in the store. Each method is named in the
//   decision log (match=...); an invalid or expired token sets token_reason.
//
//   Only signed or structural data routes mail: In-Reply-To/References ids must match ids the
//   store saw, so a forged id can at worst join a thread whose ids the sender already knows.
//
// BUGS
//   At most kMaxLookups References are looked up (the newest, plus the first, which names the
//   thread root); thousands of References cost no more than that.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/records.h"
#include "store/thread_store.h"
#include "thread/reply_token.h"

namespace threadmill::thread {

enum class MatchMethod { kNone, kInReplyTo, kReferences, kThreadIndex, kToken };
const char* ToString(MatchMethod method);

// The threading headers of one message, already parsed into normalized ids (no brackets).
struct ThreadHeaders {
  std::string message_id;
  std::vector<std::string> in_reply_to;
  std::vector<std::string> references;
  std::string thread_index_root;  // base64 root of Thread-Index, or empty
  std::string thread_index;       // the whole Thread-Index in hex (mail::ThreadIndex::hex)
};

struct Resolution {
  std::string thread_id;  // the matched thread, or a fresh id when method == kNone
  MatchMethod method = MatchMethod::kNone;
  // The matched earlier msg-id (empty for kNone). For kThreadIndex: the recorded message of
  // the thread whose Thread-Index is the longest proper prefix of this one's (empty when none
  // of the thread's recent messages is).
  std::string parent;
  std::optional<store::MessageRecord> parent_record;
  // "token-invalid" / "token-expired" when a recipient token was offered but did not match.
  std::string token_reason;
  bool known() const { return method != MatchMethod::kNone; }
};

inline constexpr size_t kMaxLookups = 200;

// Thread-safe (the store is). Returns a store error when a lookup fails.
// `token`: the checked token of the message's recipient address, or nullptr when none.
Result<Resolution> Resolve(const store::ThreadStore& store, const ThreadHeaders& headers,
                           bool use_thread_index, const TokenResult* token = nullptr);

}  // namespace threadmill::thread
