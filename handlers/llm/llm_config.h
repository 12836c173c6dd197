// llm_config.h - the llm handler's [handler.NAME] configuration: endpoint, model, prompt, key,
// delivery (draft or reply), time-outs, retries and size limits.
//
// DESCRIPTION
//   LoadLlmConfig reads the JSON table init receives; every key but `endpoint` and `model` has a
//   default (handlers/llm/README.md lists them). system_prompt_file and api_key_file are read
//   once, here: the key is kept in memory only and never logged. A trailing newline of either
//   file is dropped.
//
// LIMITS
//   The OpenAI-compatible chat-completions API only (POST JSON, a Bearer key); no streaming.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace threadmill::handlers::llm {

struct LlmConfig {
  std::string endpoint;       // e.g. http://127.0.0.1:8080/v1/chat/completions
  std::string model;          // sent as "model"
  std::string system_prompt;  // the first message of every request ("" = none)
  std::string api_key;        // from api_key_file; "" = no Authorization header
  bool auto_send = false;     // false: host->draft (approval); true: host->reply
  long timeout_ms = 45000;    // whole request
  long connect_timeout_ms = 10000;
  int64_t max_retries = 4;          // transient errors retried this often, then the job is parked
  size_t max_prompt_bytes = 65536;  // the request body; oldest turns dropped to fit
  size_t max_history_turns = 10;    // earlier (user, assistant) pairs sent at most
  size_t max_answer_bytes = 16384;  // the model's answer is cut to this
  size_t max_response_bytes = 1 << 20;  // the HTTP response body; larger parks the job
  std::optional<double> temperature;    // sent only when set
  int64_t max_tokens = 0;               // sent as "max_tokens" when > 0
};

// Fills *out from config; false and *error (naming the key) on a bad or missing value.
bool LoadLlmConfig(const nlohmann::json& config, LlmConfig* out, std::string* error);

}  // namespace threadmill::handlers::llm
