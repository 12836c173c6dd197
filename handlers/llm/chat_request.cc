// chat_request.cc - see chat_request.h.
#include "chat_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace threadmill::handlers::llm {
namespace {

using ordered_json = nlohmann::ordered_json;

std::string Serialise(const LlmConfig& config, const std::vector<ChatMessage>& history,
                      size_t first, const std::string& user_text) {
  ordered_json messages = ordered_json::array();
  if (!config.system_prompt.empty()) {
    messages.push_back({{"role", "system"}, {"content", config.system_prompt}});
  }
  for (size_t i = first; i < history.size(); ++i) {
    messages.push_back({{"role", history[i].role}, {"content", history[i].content}});
  }
  messages.push_back({{"role", "user"}, {"content", user_text}});
  ordered_json body = ordered_json::object();
  body["model"] = config.model;
  body["messages"] = std::move(messages);
  body["stream"] = false;
  if (config.temperature) body["temperature"] = *config.temperature;
  if (config.max_tokens > 0) body["max_tokens"] = config.max_tokens;
  return body.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

std::string Utf8Prefix(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  // Back up over continuation bytes, then drop the lead byte whose sequence was cut.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

ChatRequest BuildChatRequest(const LlmConfig& config, const std::vector<ChatMessage>& history,
                             const std::string& user_text) {
  ChatRequest r;
  const size_t cap = config.max_prompt_bytes;
  size_t first = 0;
  r.body = Serialise(config, history, first, user_text);
  while (r.body.size() > cap && first < history.size()) {
    first = std::min(history.size(), first + 2);
    r.body = Serialise(config, history, first, user_text);
  }
  r.dropped_messages = first;
  std::string user = user_text;
  while (r.body.size() > cap && !user.empty()) {
    // Cut at least the overshoot (escaping only makes the text longer than its bytes).
    size_t over = r.body.size() - cap;
    user = Utf8Prefix(user, user.size() > over ? user.size() - over : 0);
    r.body = Serialise(config, history, first, user);
  }
  r.cut_user_bytes = user_text.size() - user.size();
  if (r.body.size() > cap) {
    r.error = "the system prompt alone makes a request of " + std::to_string(r.body.size()) +
              " bytes, more than max_prompt_bytes (" + std::to_string(cap) + ")";
    r.body.clear();
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace threadmill::handlers::llm
