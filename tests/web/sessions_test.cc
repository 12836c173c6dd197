// sessions_test.cc - session ids and CSRF tokens, expiry, one-shot flash; the login limiter.
#include "web/sessions.h"

#include <set>

#include <gtest/gtest.h>

#include "web/rate_limiter.h"

namespace threadmill::web {
namespace {

TEST(SessionsTest, TokensAreRandomHexAndComparedExactly) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = RandomToken();
    ASSERT_EQ(t.size(), 64u);
    ASSERT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
  std::string t = RandomToken();
  EXPECT_TRUE(TokensEqual(t, t));
  EXPECT_FALSE(TokensEqual(t, t.substr(0, 63)));
  EXPECT_FALSE(TokensEqual(t, RandomToken()));
  EXPECT_FALSE(TokensEqual("", ""));
}

TEST(SessionsTest, CreateFindExpireRemoveAndFlash) {
  SessionStore store(3600);
  Session a = store.Create("alice", 1000);
  Session b = store.Create("bob", 3000);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.csrf, b.csrf);
  EXPECT_NE(a.id, a.csrf);
  auto found = store.Find(a.id, 2000);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_EQ(found->csrf, a.csrf);
  EXPECT_FALSE(store.Find(a.id.substr(1) + "0", 2000));
  EXPECT_FALSE(store.Find(a.id, 1000 + 3600)) << "expired at its lifetime";
  EXPECT_FALSE(store.Find(a.id, 1000)) << "and removed";
  store.SetFlash(b.id, "Saved");
  auto flashed = store.Find(b.id, 4601);
  ASSERT_TRUE(flashed);
  EXPECT_EQ(flashed->flash, "Saved");
  auto again = store.Find(b.id, 4602);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->flash, "") << "shown once";
  store.Remove(b.id);
  EXPECT_FALSE(store.Find(b.id, 4603));
}

TEST(RateLimiterTest, FailuresPerKeyInASlidingMinute) {
  RateLimiter limiter(3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Allowed("user:alice", 100 + i));
    limiter.Failed("user:alice", 100 + i);
  }
  EXPECT_FALSE(limiter.Allowed("user:alice", 105));
  EXPECT_TRUE(limiter.Allowed("user:bob", 105)) << "keys are separate";
  EXPECT_FALSE(limiter.Allowed("user:alice", 159));
  EXPECT_TRUE(limiter.Allowed("user:alice", 160)) << "the first failure left the window";
  limiter.Failed("user:alice", 160);
  EXPECT_FALSE(limiter.Allowed("user:alice", 160));
  EXPECT_TRUE(limiter.Allowed("user:alice", 161));
  EXPECT_TRUE(limiter.Allowed("user:alice", 300));
}

}  // namespace
}  // namespace threadmill::web
