// chat_response.h - what an OpenAI-compatible chat-completions endpoint answered, and what the
// job does about it (done with an answer, retry later, or park).
//
// DESCRIPTION
//   ClassifyResponse maps one HTTP exchange to an outcome:
//     - connection errors and time-outs (curl), HTTP 408, 425, 429 and 5xx → kRetry;
//     - other statuses outside 2xx (4xx, 3xx: redirects are not followed), a body past
//       max_response_bytes, a body that is not JSON, no choices, an answer that is not a
//       non-empty string → kFail (the job is parked: it cannot succeed as it is);
//     - else kAnswer with choices[0].message.content, trimmed, cut to max_answer_bytes.
//   `reason` is one log line (status, the endpoint's error message or the body's start); it
//   never holds request headers, so never the API key.
//
// STANDARDS
//   The chat-completions response format of the OpenAI API ({"choices": [{"message":
//   {"role": "assistant", "content": "..."}, "finish_reason": "stop"}]}) and its error object
//   ({"error": {"message": "..."}}), as llama.cpp, Ollama and vLLM send them.
//
// LIMITS
//   The first choice only; tool calls and refusals without content count as an empty answer.
#pragma once

#include <cstddef>
#include <string>

#include "handlers/common/http_post.h"

namespace threadmill::handlers::llm {

enum class Outcome { kAnswer, kRetry, kFail };

struct ChatAnswer {
  Outcome outcome = Outcome::kFail;
  std::string text;           // kAnswer: the assistant's text
  std::string reason;         // kRetry/kFail: why; kAnswer: "" or a note (cut, finish_reason)
  bool cut = false;           // the answer was longer than max_answer_bytes
  std::string finish_reason;  // as sent, "" when absent
};

ChatAnswer ClassifyResponse(const common::HttpResponse& response, size_t max_response_bytes,
                            size_t max_answer_bytes);

// Only the body: parses a 2xx chat-completions body (kAnswer or kFail).
ChatAnswer ParseChatBody(const std::string& body, size_t max_answer_bytes);

}  // namespace threadmill::handlers::llm
