// chat_request_test.cc - the chat-completions request body (handlers/llm/chat_request.h):
// exact JSON with the system prompt and prior turns, optional keys, and how it is cut to
// max_prompt_bytes.
#include "handlers/llm/chat_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::handlers::llm {
namespace {

LlmConfig Config() {
  LlmConfig c;
  c.endpoint = "http://127.0.0.1:8080/v1/chat/completions";
  c.model = "tiny";
  c.system_prompt = "Be brief.";
  return c;
}

const std::vector<ChatMessage> kHistory = {
    {"user", "Where is my order?"},
    {"assistant", "It ships today."},
    {"user", "Which carrier?"},
    {"assistant", "UPS."},
};

TEST(ChatRequest, ExactBody) {
  struct Case {
    const char* name;
    LlmConfig config;
    std::vector<ChatMessage> history;
    std::string user;
    std::string want;
  };
  LlmConfig none = Config();
  none.system_prompt = "";
  LlmConfig extras = Config();
  extras.temperature = 0.5;
  extras.max_tokens = 200;
  const std::vector<Case> cases = {
      {"first turn",
       Config(),
       {},
       "Hello?",
       R"({"model":"tiny","messages":[{"role":"system","content":"Be brief."},)"
       R"({"role":"user","content":"Hello?"}],"stream":false})"},
      {"prior turns in order",
       Config(),
       {kHistory[0], kHistory[1]},
       "Thanks \"a\"\n",
       R"({"model":"tiny","messages":[{"role":"system","content":"Be brief."},)"
       R"({"role":"user","content":"Where is my order?"},)"
       R"({"role":"assistant","content":"It ships today."},)"
       R"({"role":"user","content":"Thanks \"a\"\n"}],"stream":false})"},
      {"no system prompt",
       none,
       {},
       "x",
       R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"stream":false})"},
      {"temperature and max_tokens",
       extras,
       {},
       "x",
       R"({"model":"tiny","messages":[{"role":"system","content":"Be brief."},)"
       R"({"role":"user","content":"x"}],"stream":false,"temperature":0.5,"max_tokens":200})"},
      {"invalid UTF-8 replaced",
       none,
       {},
       "a\xff",
       "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xEF\xBF\xBD\"}],"
       "\"stream\":false}"},
  };
  for (const Case& c : cases) {
    ChatRequest r = BuildChatRequest(c.config, c.history, c.user);
    EXPECT_TRUE(r.ok) << c.name << ": " << r.error;
    EXPECT_EQ(r.body, c.want) << c.name;
    EXPECT_EQ(r.dropped_messages, 0u) << c.name;
    EXPECT_EQ(r.cut_user_bytes, 0u) << c.name;
  }
}

TEST(ChatRequest, DropsOldestPairsFirst) {
  LlmConfig c = Config();
  ChatRequest full = BuildChatRequest(c, kHistory, "New question");
  ASSERT_TRUE(full.ok);
  c.max_prompt_bytes = full.body.size() - 1;  // one byte short: the oldest pair must go
  ChatRequest r = BuildChatRequest(c, kHistory, "New question");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.dropped_messages, 2u);
  EXPECT_EQ(r.cut_user_bytes, 0u);
  EXPECT_EQ(r.body, BuildChatRequest(Config(), {kHistory[2], kHistory[3]}, "New question").body);
  EXPECT_LE(r.body.size(), c.max_prompt_bytes);
}

TEST(ChatRequest, CutsTheUserTextAtAUtf8Boundary) {
  LlmConfig c = Config();
  std::string user;
  for (int i = 0; i < 400; ++i) user += "\xC3\xA9";  // é, two bytes
  ChatRequest empty = BuildChatRequest(c, {}, "");
  c.max_prompt_bytes = empty.body.size() + 101;  // room for 101 bytes: 50 whole é
  ChatRequest r = BuildChatRequest(c, kHistory, user);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.dropped_messages, kHistory.size());
  EXPECT_EQ(r.cut_user_bytes, user.size() - 100);
  EXPECT_EQ(r.body, BuildChatRequest(Config(), {}, user.substr(0, 100)).body);
}

TEST(ChatRequest, FailsWhenTheSystemPromptAloneIsTooLarge) {
  LlmConfig c = Config();
  c.max_prompt_bytes = 1024;
  c.system_prompt = std::string(2000, 'p');
  ChatRequest r = BuildChatRequest(c, kHistory, "hi");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.body.empty());
  EXPECT_NE(r.error.find("max_prompt_bytes (1024)"), std::string::npos) << r.error;
}

TEST(Utf8Prefix, NeverEndsInsideASequence) {
  struct Case {
    std::string in;
    size_t max;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"abc", 5, "abc"},
      {"abc", 2, "ab"},
      {"a\xE2\x82\xAC", 3, "a"},  // € cut after two of its three bytes
      {"a\xE2\x82\xAC", 4, "a\xE2\x82\xAC"},
      {"\xF0\x9F\x98\x80z", 1, ""},
      {"", 0, ""},
  };
  for (const Case& c : cases) EXPECT_EQ(Utf8Prefix(c.in, c.max), c.want) << c.max;
}

}  // namespace
}  // namespace threadmill::handlers::llm
