// chat_request.h - the request body of an OpenAI-compatible POST /v1/chat/completions.
//
// DESCRIPTION
//   BuildChatRequest serialises {"model", "messages": [system?, earlier turns..., user],
//   "stream": false, "temperature"?, "max_tokens"?} in that key order, compact, invalid UTF-8
//   replaced by U+FFFD. The body is kept within max_prompt_bytes: the oldest earlier turns go
//   first (two messages at a time, a user and an assistant), then the end of the new user text
//   is cut (at a UTF-8 boundary). The result says what was dropped so the caller can log it.
//
// STANDARDS
//   The chat-completions request format of the OpenAI API, as llama.cpp's llama-server,
//   Ollama and vLLM accept it.
//
// LIMITS
//   Text content only (no images, tools or streaming).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "llm_config.h"

namespace threadmill::handlers::llm {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
  bool operator==(const ChatMessage& o) const { return role == o.role && content == o.content; }
};

struct ChatRequest {
  bool ok = false;
  std::string body;             // the JSON text to POST
  std::string error;            // when !ok: why no body fits max_prompt_bytes
  size_t dropped_messages = 0;  // earlier messages left out to fit
  size_t cut_user_bytes = 0;    // bytes cut from the end of the user text to fit
};

// The request for `user_text` after `history` (oldest first, as stored).
ChatRequest BuildChatRequest(const LlmConfig& config, const std::vector<ChatMessage>& history,
                             const std::string& user_text);

// The longest prefix of s of at most max bytes that does not end inside a UTF-8 sequence.
std::string Utf8Prefix(const std::string& s, size_t max);

}  // namespace threadmill::handlers::llm
