// thread_update.cc - see thread_update.h.
#include "store/thread_update.h"

#include <algorithm>

#include "common/ascii.h"

namespace threadmill::store {
namespace {

void AddParticipant(ThreadRecord& thread, const std::string& address) {
  if (address.empty() || thread.participants.size() >= kMaxParticipants) return;
  for (const std::string& p : thread.participants) {
    if (ascii::EqualsIgnoreCase(p, address)) return;
  }
  thread.participants.push_back(address);
}

}  // namespace

void ApplyMessage(ThreadRecord& thread, const MessageRecord& rec) {
  if (thread.message_count == 0 && thread.created == 0) thread.created = rec.time;
  thread.updated = std::max(thread.updated, rec.time);
  thread.message_count += 1;
  thread.recent_msgids.push_back(rec.msgid);
  if (thread.recent_msgids.size() > kMaxRecentMsgids) {
    thread.recent_msgids.erase(thread.recent_msgids.begin(),
                               thread.recent_msgids.end() - kMaxRecentMsgids);
  }
  AddParticipant(thread, rec.from);
  for (const std::string& to : rec.to) AddParticipant(thread, to);
  if (thread.owner.empty()) thread.owner = rec.owner;
  if (thread.subject.empty()) thread.subject = rec.subject;
}

void ForgetMessages(ThreadRecord& thread, size_t left, const std::set<std::string>& gone) {
  thread.message_count = left;
  std::erase_if(thread.recent_msgids, [&](const std::string& id) { return gone.count(id) > 0; });
}

}  // namespace threadmill::store
