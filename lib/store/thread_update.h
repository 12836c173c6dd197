// thread_update.h - how a thread record changes when a message is recorded in it or swept
// from it; shared by every ThreadBackend so they agree to the byte.
//
// LIMITS
//   recent_msgids keeps the newest kMaxRecentMsgids, participants the first kMaxParticipants
//   addresses (compared ignoring ASCII case), records.h.
#pragma once

#include <cstddef>
#include <set>
#include <string>

#include "store/records.h"

namespace threadmill::store {

// Adds `rec` to `thread`: created (first message), updated, message_count, recent_msgids,
// participants, and owner and subject when they are empty. Pure.
void ApplyMessage(ThreadRecord& thread, const MessageRecord& rec);

// After a sweep removed the messages `gone` and `left` remain. Pure.
void ForgetMessages(ThreadRecord& thread, size_t left, const std::set<std::string>& gone);

}  // namespace threadmill::store
