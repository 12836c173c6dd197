// llm_config.cc - see llm_config.h.
#include "llm_config.h"

#include <cmath>
#include <cstdlib>

#include "handlers/common/config.h"
#include "handlers/common/config_file.h"
#include "handlers/common/http_post.h"

namespace threadmill::handlers::llm {
namespace {

using common::ConfigInt;
using common::ConfigString;

// A number (or numeric string) in [min, max]; absent → nullopt with ok; bad → false.
bool ConfigDouble(const nlohmann::json& config, const char* key, double min, double max,
                  std::optional<double>* out, std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return true;
  double value = NAN;
  if (it->is_number()) {
    value = it->get<double>();
  } else if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    value = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) value = NAN;
  }
  if (!(value >= min && value <= max)) {
    *error = std::string(key) + ": expected a number from " + std::to_string(min) + " to " +
             std::to_string(max);
    return false;
  }
  *out = value;
  return true;
}

// The contents of `path` (key names it in errors) without trailing line breaks.
std::optional<std::string> ReadTrimmed(const char* key, const std::string& path,
                                       std::string* error) {
  auto contents = common::ReadConfigFile(key, path, error);
  if (!contents) return std::nullopt;
  while (!contents->empty() && (contents->back() == '\n' || contents->back() == '\r')) {
    contents->pop_back();
  }
  return contents;
}

bool LoadPrompt(const nlohmann::json& config, LlmConfig* out, std::string* error) {
  auto prompt = ConfigString(config, "system_prompt", "", error);
  auto file = ConfigString(config, "system_prompt_file", "", error);
  if (!prompt || !file) return false;
  if (!prompt->empty() && !file->empty()) {
    *error = "system_prompt and system_prompt_file are both set; keep one";
    return false;
  }
  out->system_prompt = *prompt;
  if (!file->empty()) {
    auto text = ReadTrimmed("system_prompt_file", *file, error);
    if (!text) return false;
    out->system_prompt = std::move(*text);
  }
  return true;
}

bool LoadKey(const nlohmann::json& config, LlmConfig* out, std::string* error) {
  if (config.contains("api_key")) {
    *error = "api_key: put the key in a file and name it with api_key_file";
    return false;
  }
  auto file = ConfigString(config, "api_key_file", "", error);
  if (!file) return false;
  if (file->empty()) return true;
  auto key = ReadTrimmed("api_key_file", *file, error);
  if (!key) return false;
  if (key->empty() || key->find_first_of("\r\n") != std::string::npos) {
    *error = "api_key_file: " + *file + " must hold the key on one line";
    return false;
  }
  out->api_key = std::move(*key);
  return true;
}

}  // namespace

bool LoadLlmConfig(const nlohmann::json& config, LlmConfig* out, std::string* error) {
  auto endpoint = ConfigString(config, "endpoint", "", error);
  auto model = ConfigString(config, "model", "", error);
  if (!endpoint || !model) return false;
  if (endpoint->empty()) {
    *error = "endpoint is required (e.g. http://127.0.0.1:8080/v1/chat/completions)";
    return false;
  }
  if (!common::ValidHttpUrl("endpoint", *endpoint, error)) return false;
  if (model->empty()) {
    *error = "model is required (llama.cpp's server accepts any name)";
    return false;
  }
  auto auto_send = common::ConfigBool(config, "auto_send", false, error);
  auto timeout = ConfigInt(config, "timeout_seconds", 45, 1, 3600, error);
  auto connect = ConfigInt(config, "connect_timeout_seconds", 10, 1, 600, error);
  auto retries = ConfigInt(config, "max_retries", 4, 0, 100, error);
  auto prompt_bytes = ConfigInt(config, "max_prompt_bytes", 65536, 1024, 16 << 20, error);
  auto turns = ConfigInt(config, "max_history_turns", 10, 0, 1000, error);
  auto answer_bytes = ConfigInt(config, "max_answer_bytes", 16384, 64, 1 << 20, error);
  auto response_bytes = ConfigInt(config, "max_response_bytes", 1 << 20, 1024, 64 << 20, error);
  auto max_tokens = ConfigInt(config, "max_tokens", 0, 0, 1 << 24, error);
  if (!auto_send || !timeout || !connect || !retries || !prompt_bytes || !turns || !answer_bytes ||
      !response_bytes || !max_tokens) {
    return false;
  }
  if (!ConfigDouble(config, "temperature", 0.0, 2.0, &out->temperature, error)) return false;
  if (!LoadPrompt(config, out, error) || !LoadKey(config, out, error)) return false;
  out->endpoint = *endpoint;
  out->model = *model;
  out->auto_send = *auto_send;
  out->timeout_ms = static_cast<long>(*timeout * 1000);
  out->connect_timeout_ms = static_cast<long>(*connect * 1000);
  out->max_retries = *retries;
  out->max_prompt_bytes = static_cast<size_t>(*prompt_bytes);
  out->max_history_turns = static_cast<size_t>(*turns);
  out->max_answer_bytes = static_cast<size_t>(*answer_bytes);
  out->max_response_bytes = static_cast<size_t>(*response_bytes);
  out->max_tokens = *max_tokens;
  return true;
}

}  // namespace threadmill::handlers::llm
