// conversation_test.cc - a thread's turns in KV (handlers/llm/conversation.h), through
// threadmill::Context over the host test double: exact keys and records, the window, one
// thread never reading another's, the stored answer of a retried message, rollback, store errors.
#include "handlers/llm/conversation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../host_double.h"

namespace threadmill::handlers::llm {
namespace {

using nlohmann::json;
using test::HostDouble;

TEST(Conversation, AppendWritesTurnsThenCounter) {
  HostDouble host;
  Context ctx(&host.ctx, &host.api);
  Conversation conv(ctx, "T1");
  std::vector<std::string> skipped;
  ASSERT_TRUE(conv.Load(20, &skipped));
  EXPECT_TRUE(conv.turns().empty());
  ASSERT_TRUE(conv.Append("Hi", "Hello!", "<m1@x>"));
  EXPECT_EQ(host.kv.size(), 3u);
  EXPECT_EQ(host.kv["turns:T1"], "2");
  EXPECT_EQ(json::parse(host.kv["turn:T1:0000000000"]),
            (json{{"role", "user"}, {"content", "Hi"}, {"message_id", "<m1@x>"}}));
  EXPECT_EQ(json::parse(host.kv["turn:T1:0000000001"]),
            (json{{"role", "assistant"}, {"content", "Hello!"}, {"message_id", "<m1@x>"}}));
}

TEST(Conversation, LoadsTheLastWindowOfItsOwnThreadOnly) {
  HostDouble host;
  Context ctx(&host.ctx, &host.api);
  {
    Conversation a(ctx, "A");
    Conversation b(ctx, "B");
    std::vector<std::string> skipped;
    ASSERT_TRUE(a.Load(100, &skipped));
    ASSERT_TRUE(b.Load(100, &skipped));
    for (int i = 0; i < 3; ++i) {
      std::string n = std::to_string(i);
      ASSERT_TRUE(a.Append("a-q" + n, "a-a" + n, "<a" + n + ">"));
      ASSERT_TRUE(b.Append("b-q" + n, "b-a" + n, "<b" + n + ">"));
    }
  }
  Conversation a(ctx, "A");
  std::vector<std::string> skipped;
  ASSERT_TRUE(a.Load(4, &skipped));
  EXPECT_TRUE(skipped.empty());
  std::vector<ChatMessage> want = {
      {"user", "a-q1"}, {"assistant", "a-a1"}, {"user", "a-q2"}, {"assistant", "a-a2"}};
  EXPECT_EQ(a.History(4), want);
  EXPECT_EQ(a.History(2), std::vector<ChatMessage>(want.begin() + 2, want.end()));
  EXPECT_TRUE(a.History(0).empty());
  EXPECT_EQ(a.AnswerFor("<a2>"), "a-a2");
  EXPECT_EQ(a.AnswerFor("<a1>"), std::nullopt);  // not the last exchange
  EXPECT_EQ(a.AnswerFor("<b2>"), std::nullopt);
}

TEST(Conversation, RollbackForgetsTheLastExchange) {
  HostDouble host;
  Context ctx(&host.ctx, &host.api);
  Conversation conv(ctx, "T");
  std::vector<std::string> skipped;
  ASSERT_TRUE(conv.Load(10, &skipped));
  ASSERT_TRUE(conv.Append("q0", "a0", "<0>"));
  ASSERT_TRUE(conv.Append("q1", "a1", "<1>"));
  ASSERT_TRUE(conv.Rollback());
  EXPECT_EQ(host.kv["turns:T"], "2");
  EXPECT_EQ(host.kv.count("turn:T:0000000002"), 0u);
  EXPECT_EQ(host.kv.count("turn:T:0000000003"), 0u);
  EXPECT_EQ(conv.turns().size(), 2u);
  EXPECT_TRUE(conv.Rollback());  // nothing more to undo
  EXPECT_EQ(host.kv["turns:T"], "2");
}

TEST(Conversation, DamagedRecordsAreSkippedAndNamed) {
  HostDouble host;
  host.kv["turns:T"] = "3";
  host.kv["turn:T:0000000000"] = R"({"role":"user","content":"ok","message_id":"<1>"})";
  host.kv["turn:T:0000000001"] = "not json";
  Context ctx(&host.ctx, &host.api);
  Conversation conv(ctx, "T");
  std::vector<std::string> skipped;
  ASSERT_TRUE(conv.Load(10, &skipped));
  ASSERT_EQ(conv.turns().size(), 1u);
  EXPECT_EQ(conv.turns()[0].content, "ok");
  EXPECT_EQ(skipped, (std::vector<std::string>{"turn:T:0000000001 (not a turn record)",
                                               "turn:T:0000000002 (missing)"}));
}

TEST(Conversation, StoreErrorsAreReturned) {
  HostDouble host;
  host.kv_status = THREADMILL_STORE;
  host.last_error = "lmdb: map full";
  Context ctx(&host.ctx, &host.api);
  Conversation conv(ctx, "T");
  std::vector<std::string> skipped;
  HostStatus st = conv.Load(10, &skipped);
  EXPECT_EQ(st.code, THREADMILL_STORE);
  EXPECT_EQ(conv.Append("q", "a", "<1>").code, THREADMILL_STORE);
}

}  // namespace
}  // namespace threadmill::handlers::llm
