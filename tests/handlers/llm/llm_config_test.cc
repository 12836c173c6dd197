// llm_config_test.cc - the llm handler's configuration (handlers/llm/llm_config.h): defaults,
// required keys, ranges, the prompt and key files.
#include "handlers/llm/llm_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

namespace threadmill::handlers::llm {
namespace {

using nlohmann::json;

const char kEndpoint[] = "http://127.0.0.1:8080/v1/chat/completions";

std::string TempFile(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + "llm_config_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << contents;
  return path;
}

TEST(LlmConfig, Defaults) {
  LlmConfig c;
  std::string error;
  ASSERT_TRUE(LoadLlmConfig(json{{"endpoint", kEndpoint}, {"model", "m"}}, &c, &error)) << error;
  EXPECT_EQ(c.endpoint, kEndpoint);
  EXPECT_EQ(c.model, "m");
  EXPECT_FALSE(c.auto_send);
  EXPECT_EQ(c.timeout_ms, 45000);
  EXPECT_EQ(c.connect_timeout_ms, 10000);
  EXPECT_EQ(c.max_retries, 4);
  EXPECT_EQ(c.max_prompt_bytes, 65536u);
  EXPECT_EQ(c.max_history_turns, 10u);
  EXPECT_EQ(c.max_answer_bytes, 16384u);
  EXPECT_EQ(c.max_response_bytes, 1u << 20);
  EXPECT_FALSE(c.temperature.has_value());
  EXPECT_EQ(c.max_tokens, 0);
  EXPECT_EQ(c.system_prompt, "");
  EXPECT_EQ(c.api_key, "");
}

TEST(LlmConfig, Values) {
  std::string prompt = TempFile("prompt", "You answer mail.\n");
  std::string key = TempFile("key", "sk-123\n");
  json j = {{"endpoint", kEndpoint},
            {"model", "m"},
            {"auto_send", true},
            {"timeout_seconds", "7"},
            {"max_retries", 0},
            {"max_prompt_bytes", 2048},
            {"max_history_turns", 3},
            {"max_answer_bytes", 100},
            {"temperature", 0.2},
            {"max_tokens", 64},
            {"system_prompt_file", prompt},
            {"api_key_file", key}};
  LlmConfig c;
  std::string error;
  ASSERT_TRUE(LoadLlmConfig(j, &c, &error)) << error;
  EXPECT_TRUE(c.auto_send);
  EXPECT_EQ(c.timeout_ms, 7000);
  EXPECT_EQ(c.max_retries, 0);
  EXPECT_EQ(c.max_prompt_bytes, 2048u);
  EXPECT_EQ(c.max_history_turns, 3u);
  EXPECT_EQ(c.max_answer_bytes, 100u);
  EXPECT_EQ(c.temperature, 0.2);
  EXPECT_EQ(c.max_tokens, 64);
  EXPECT_EQ(c.system_prompt, "You answer mail.");
  EXPECT_EQ(c.api_key, "sk-123");
}

TEST(LlmConfig, Refusals) {
  std::string empty_key = TempFile("empty_key", "\n");
  std::string two_lines = TempFile("two_lines", "a\nb\n");
  json base = {{"endpoint", kEndpoint}, {"model", "m"}};
  struct Case {
    json patch;
    std::string error_has;
  };
  const std::vector<Case> cases = {
      {{{"endpoint", nullptr}}, "endpoint is required"},
      {{{"endpoint", "ftp://x/"}}, "endpoint: expected an http:// or https:// URL"},
      {{{"model", ""}}, "model is required"},
      {{{"auto_send", "yes"}}, "auto_send"},
      {{{"timeout_seconds", 0}}, "timeout_seconds"},
      {{{"max_prompt_bytes", 10}}, "max_prompt_bytes"},
      {{{"max_answer_bytes", -1}}, "max_answer_bytes"},
      {{{"max_history_turns", "many"}}, "max_history_turns"},
      {{{"temperature", 3}}, "temperature"},
      {{{"temperature", "hot"}}, "temperature"},
      {{{"system_prompt", "a"}, {"system_prompt_file", "/x"}}, "both set"},
      {{{"system_prompt_file", "/nonexistent/prompt"}}, "system_prompt_file: cannot read"},
      {{{"api_key", "sk-inline"}}, "api_key_file"},
      {{{"api_key_file", "/nonexistent/key"}}, "api_key_file: cannot read"},
      {{{"api_key_file", empty_key}}, "one line"},
      {{{"api_key_file", two_lines}}, "one line"},
  };
  for (const Case& c : cases) {
    json j = base;
    j.merge_patch(c.patch);
    LlmConfig out;
    std::string error;
    EXPECT_FALSE(LoadLlmConfig(j, &out, &error)) << c.patch.dump();
    EXPECT_NE(error.find(c.error_has), std::string::npos) << c.patch.dump() << ": " << error;
    EXPECT_EQ(error.find("sk-"), std::string::npos) << "the key leaked into: " << error;
  }
}

}  // namespace
}  // namespace threadmill::handlers::llm
