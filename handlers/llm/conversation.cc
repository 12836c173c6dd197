// conversation.cc - see conversation.h.
#include "conversation.h"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace threadmill::handlers::llm {

using nlohmann::json;

std::string Conversation::CounterKey(const std::string& thread_id) { return "turns:" + thread_id; }

std::string Conversation::TurnKey(const std::string& thread_id, uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%010llu", static_cast<unsigned long long>(seq));
  return "turn:" + thread_id + ":" + digits;
}

HostStatus Conversation::Load(size_t max_messages, std::vector<std::string>* skipped) {
  turns_.clear();
  auto counter = ctx_.kv_get(CounterKey(thread_));
  if (!counter) return counter.status();
  next_ = 0;
  if (*counter) {
    const std::string& s = **counter;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), next_);
    if (ec != std::errc() || end != s.data() + s.size()) {
      skipped->push_back(CounterKey(thread_) + " (not a number; starting again at 0)");
      next_ = 0;
    }
  }
  uint64_t first = next_ > max_messages ? next_ - max_messages : 0;
  for (uint64_t seq = first; seq < next_; ++seq) {
    const std::string key = TurnKey(thread_, seq);
    auto value = ctx_.kv_get(key);
    if (!value) return value.status();
    if (!*value) {
      skipped->push_back(key + " (missing)");
      continue;
    }
    json j = json::parse(**value, nullptr, false);
    if (!j.is_object() || !j.contains("role") || !j["role"].is_string() || !j.contains("content") ||
        !j["content"].is_string() || (j["role"] != "user" && j["role"] != "assistant")) {
      skipped->push_back(key + " (not a turn record)");
      continue;
    }
    std::string id = j.contains("message_id") && j["message_id"].is_string()
                         ? j["message_id"].get<std::string>()
                         : "";
    turns_.push_back({j["role"].get<std::string>(), j["content"].get<std::string>(), id});
  }
  return {};
}

std::vector<ChatMessage> Conversation::History(size_t max_messages) const {
  std::vector<ChatMessage> out;
  size_t first = turns_.size() > max_messages ? turns_.size() - max_messages : 0;
  for (size_t i = first; i < turns_.size(); ++i) out.push_back({turns_[i].role, turns_[i].content});
  return out;
}

std::optional<std::string> Conversation::AnswerFor(const std::string& message_id) const {
  if (turns_.size() < 2 || message_id.empty()) return std::nullopt;
  const Turn& user = turns_[turns_.size() - 2];
  const Turn& answer = turns_.back();
  if (user.role == "user" && answer.role == "assistant" && user.message_id == message_id &&
      answer.message_id == message_id) {
    return answer.content;
  }
  return std::nullopt;
}

HostStatus Conversation::Put(uint64_t seq, const Turn& turn) {
  json j = {{"role", turn.role}, {"content", turn.content}, {"message_id", turn.message_id}};
  return ctx_.kv_put(TurnKey(thread_, seq), j.dump(-1, ' ', false, json::error_handler_t::replace));
}

HostStatus Conversation::Append(const std::string& user, const std::string& assistant,
                                const std::string& message_id) {
  Turn u{"user", user, message_id};
  Turn a{"assistant", assistant, message_id};
  if (HostStatus st = Put(next_, u); !st) return st;
  if (HostStatus st = Put(next_ + 1, a); !st) return st;
  if (HostStatus st = ctx_.kv_put(CounterKey(thread_), std::to_string(next_ + 2)); !st) return st;
  next_ += 2;
  turns_.push_back(std::move(u));
  turns_.push_back(std::move(a));
  appended_ = true;
  return {};
}

HostStatus Conversation::Rollback() {
  if (!appended_) return {};
  uint64_t before = next_ - 2;
  if (HostStatus st = ctx_.kv_put(CounterKey(thread_), std::to_string(before)); !st) return st;
  next_ = before;
  turns_.resize(turns_.size() - 2);
  appended_ = false;
  for (uint64_t seq : {before, before + 1}) {
    HostStatus st = ctx_.kv_delete(TurnKey(thread_, seq));
    if (!st && !st.not_found()) return st;
  }
  return {};
}

}  // namespace threadmill::handlers::llm
