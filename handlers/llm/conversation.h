// conversation.h - one thread's conversation with the model, kept in the handler's KV records.
//
// DESCRIPTION
//   Keys (the handler's private key space, host->kv_*), all under the thread's id, so a thread
//   never sees another's turns:
//     turns:<thread_id>              the next sequence number, decimal (absent = 0)
//     turn:<thread_id>:<seq>         one message, JSON {"role", "content", "message_id"},
//                                    seq zero-padded to 10 digits (byte order = time order)
//   Load reads the counter and the last `max_messages` records. Append writes a user and an
//   assistant record, then the counter (the counter is the commit: records past it are
//   ignored and overwritten). Rollback undoes the last Append (a reply the host refused).
//   AnswerFor finds the stored answer to a message, so a retried job re-sends the same answer
//   instead of asking the model again.
//
// LIMITS
//   One writer per thread at a time is assumed (one job per message; concurrent messages of
//   one thread may interleave their turns). Records older than the window are kept: nothing
//   deletes a thread's history (threadmillctl kv delete does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat_request.h"
#include "threadmill/handler.hpp"

namespace threadmill::handlers::llm {

struct Turn {
  std::string role;  // "user" or "assistant"
  std::string content;
  std::string message_id;  // the inbound message the turn belongs to
};

class Conversation {
 public:
  Conversation(Context& ctx, std::string thread_id) : ctx_(ctx), thread_(std::move(thread_id)) {}

  // Reads the last max_messages turns. A store error is returned; a damaged record is skipped
  // and named in *skipped.
  HostStatus Load(size_t max_messages, std::vector<std::string>* skipped);
  // The turns read by Load, oldest first.
  const std::vector<Turn>& turns() const { return turns_; }
  // The last `max_messages` turns as chat messages.
  std::vector<ChatMessage> History(size_t max_messages) const;
  // The assistant's stored answer when the last two turns answer message_id.
  std::optional<std::string> AnswerFor(const std::string& message_id) const;

  HostStatus Append(const std::string& user, const std::string& assistant,
                    const std::string& message_id);
  HostStatus Rollback();

  static std::string CounterKey(const std::string& thread_id);
  static std::string TurnKey(const std::string& thread_id, uint64_t seq);

 private:
  HostStatus Put(uint64_t seq, const Turn& turn);

  Context& ctx_;
  std::string thread_;
  uint64_t next_ = 0;  // the counter as read (or as written by Append)
  std::vector<Turn> turns_;
  bool appended_ = false;
};

}  // namespace threadmill::handlers::llm
