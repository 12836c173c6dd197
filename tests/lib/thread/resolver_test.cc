#include "thread/resolver.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace threadmill::thread {
namespace {

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::EnvOptions options;
    options.path = dir_.str();
    options.map_size_bytes = 4 << 20;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok());
    store_ = std::make_unique<store::ThreadStore>(*env);
    Put("a@x", "TA");
    Put("b@x", "TB");
    Put("c@x", "TC");
  }
  void Put(const std::string& id, const std::string& thread) {
    store::MessageRecord record;
    record.msgid = id;
    record.thread_id = thread;
    record.time = 1700000000;
    ASSERT_TRUE(store_->RecordMessage(record).ok());
  }
  testing::TempDir dir_;
  std::unique_ptr<store::ThreadStore> store_;
};

TEST_F(ResolverTest, Order) {
  struct Case {
    const char* name;
    ThreadHeaders headers;
    MatchMethod method;
    const char* thread;  // nullptr: a new thread
    const char* parent;
  } cases[] = {
      {"in-reply-to first",
       {"new@y", {"a@x"}, {"b@x"}, "", ""},
       MatchMethod::kInReplyTo,
       "TA",
       "a@x"},
      {"last in-reply-to id",
       {"new@y", {"b@x", "a@x"}, {}, "", ""},
       MatchMethod::kInReplyTo,
       "TA",
       "a@x"},
      {"unknown in-reply-to falls to references",
       {"new@y", {"zz@q"}, {"a@x", "b@x"}, "", ""},
       MatchMethod::kReferences,
       "TB",
       "b@x"},
      {"references newest first",
       {"new@y", {}, {"a@x", "c@x", "zz@q"}, "", ""},
       MatchMethod::kReferences,
       "TC",
       "c@x"},
      {"self is never parent", {"a@x", {"a@x"}, {}, "", ""}, MatchMethod::kNone, nullptr, ""},
      {"nothing known", {"new@y", {"q@q"}, {"r@r"}, "", ""}, MatchMethod::kNone, nullptr, ""},
      {"no headers", {"", {}, {}, "", ""}, MatchMethod::kNone, nullptr, ""},
  };
  for (const auto& c : cases) {
    auto r = Resolve(*store_, c.headers, true);
    ASSERT_TRUE(r.ok()) << c.name;
    EXPECT_EQ(r->method, c.method) << c.name;
    EXPECT_EQ(r->parent, c.parent) << c.name;
    if (c.thread) {
      EXPECT_EQ(r->thread_id, c.thread) << c.name;
    } else {
      EXPECT_FALSE(r->thread_id.empty()) << c.name;
      EXPECT_NE(r->thread_id, "TA") << c.name;
    }
  }
}

TEST_F(ResolverTest, RootFoundBeyondLookupBudget) {
  ThreadHeaders headers;
  headers.message_id = "new@y";
  headers.references.push_back("a@x");  // the root, followed by thousands of unknown hops
  for (int i = 0; i < 5000; ++i) headers.references.push_back("hop" + std::to_string(i) + "@r");
  auto r = Resolve(*store_, headers, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->thread_id, "TA");
  EXPECT_EQ(r->parent, "a@x");
}

TEST_F(ResolverTest, TokenOnlyWhenHeadersMatchNothing) {
  const std::string thread = "T01JXYZ0ABCDEFGHJKMN0";
  Put("t@x", thread);
  const ReplyTokenKeys keys({"0123456789abcdef-first-key"});
  const int64_t today = 20000;
  TokenResult valid = CheckReplyToken(keys, *MakeReplyToken(keys, thread, today, 90), today);
  ASSERT_EQ(valid.check, TokenCheck::kValid);
  TokenResult unknown =
      CheckReplyToken(keys, *MakeReplyToken(keys, "T01JXYZ0ABCDEFGHJKMN9", today, 90), today);
  TokenResult invalid;  // kInvalid
  TokenResult expired;
  expired.check = TokenCheck::kExpired;
  struct Case {
    const char* name;
    ThreadHeaders headers;
    const TokenResult* token;
    MatchMethod method;
    std::string thread;  // "": a new thread
    std::string token_reason;
  } cases[] = {
      {"token alone", {"new@y", {}, {}, "", ""}, &valid, MatchMethod::kToken, thread, ""},
      {"unknown ids, token",
       {"new@y", {"zz@q"}, {"yy@q"}, "", ""},
       &valid,
       MatchMethod::kToken,
       thread,
       ""},
      {"in-reply-to wins",
       {"new@y", {"a@x"}, {}, "", ""},
       &valid,
       MatchMethod::kInReplyTo,
       "TA",
       ""},
      {"references win",
       {"new@y", {}, {"b@x"}, "", ""},
       &valid,
       MatchMethod::kReferences,
       "TB",
       ""},
      {"no token", {"new@y", {}, {}, "", ""}, nullptr, MatchMethod::kNone, "", ""},
      {"invalid", {"new@y", {}, {}, "", ""}, &invalid, MatchMethod::kNone, "", "token-invalid"},
      {"expired", {"new@y", {}, {}, "", ""}, &expired, MatchMethod::kNone, "", "token-expired"},
      {"thread gone",
       {"new@y", {}, {}, "", ""},
       &unknown,
       MatchMethod::kNone,
       "",
       "token-unknown-thread"},
  };
  for (const Case& c : cases) {
    auto r = Resolve(*store_, c.headers, true, c.token);
    ASSERT_TRUE(r.ok()) << c.name;
    EXPECT_EQ(r->method, c.method) << c.name;
    EXPECT_EQ(r->token_reason, c.token_reason) << c.name;
    if (!c.thread.empty()) {
      EXPECT_EQ(r->thread_id, c.thread) << c.name;
    } else {
      EXPECT_NE(r->thread_id, thread) << c.name;
    }
    if (c.method == MatchMethod::kToken) {
      EXPECT_TRUE(r->parent.empty()) << c.name;
    }
  }
  EXPECT_STREQ(ToString(MatchMethod::kToken), "token");
}

}  // namespace
}  // namespace threadmill::thread
