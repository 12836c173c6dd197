// Reply policies (issue 10): parsing [reply], [handler.NAME] and [[routes]] policy keys, and
// the policy a reply is claimed under (table-driven).
#include "reply/policy.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "reply/reply_config.h"

namespace threadmill::reply {
namespace {

ReplyConfig Parse(const std::string& text) {
  return ParseReplyConfig(*config::LoadFromString(text, "test.conf"));
}

TEST(Policy, Modes) {
  PolicyMode m;
  EXPECT_TRUE(ParsePolicyMode("vacation", &m));
  EXPECT_EQ(m, PolicyMode::kVacation);
  EXPECT_TRUE(ParsePolicyMode("conversation", &m));
  EXPECT_EQ(m, PolicyMode::kConversation);
  EXPECT_FALSE(ParsePolicyMode("Vacation", &m));
  EXPECT_FALSE(ParsePolicyMode("", &m));
  EXPECT_STREQ(ToString(PolicyMode::kConversation), "conversation");
}

TEST(Policy, DefaultsAndOverrides) {
  const std::string conf =
      "[reply]\nsender_period_seconds = 600\nthread_replies_per_hour = 7\n"
      "[handler.autoreply]\ntemplate = \"x\"\n"
      "[handler.support]\nmodule = \"autoreply\"\nmax_replies_per_thread = 3\n"
      "[handler.agent]\nloop_max_fast_turns = 9\nmax_replies_per_thread = 0\n"
      "[handler.quiet]\nreply_policy = \"vacation\"\nsender_period_seconds = 60\n"
      "[[routes]]\nrecipient = \"Desk@Example.com\"\nhandler = \"agent\"\n"
      "policy = \"vacation\"\n"
      "[[routes]]\nrecipient = \"bot@example.com\"\nhandler = \"autoreply\"\n"
      "policy = \"conversation\"\n";
  ReplyConfig c = Parse(conf);
  struct {
    const char* handler;
    const char* route;
    PolicyMode mode;
    int64_t period, max_thread, per_hour, fast_turns;
  } cases[] = {
      // the shipped autoreply, by name or module: vacation with [reply]'s limits
      {"autoreply", "route:help@example.com", PolicyMode::kVacation, 600, 20, 0, 0},
      {"support", "", PolicyMode::kVacation, 600, 3, 0, 0},
      // any other handler: conversation, [reply]'s conversation defaults, its own overrides
      {"agent", "thread-owner", PolicyMode::kConversation, 0, 0, 7, 9},
      {"unconfigured", "", PolicyMode::kConversation, 0, 200, 7, 5},
      {"quiet", "", PolicyMode::kVacation, 60, 20, 0, 0},
      // the route's mode over the handler's
      {"agent", "route:desk@example.com", PolicyMode::kVacation, 600, 0, 0, 0},
      {"autoreply", "route:bot@example.com", PolicyMode::kConversation, 0, 200, 7, 5},
      // another handler's route does not count
      {"quiet", "route:desk@example.com", PolicyMode::kVacation, 60, 20, 0, 0},
  };
  for (const auto& x : cases) {
    ReplyPolicy p = PolicyFor(c, x.handler, x.route);
    std::string what = std::string(x.handler) + " " + x.route;
    EXPECT_EQ(p.mode, x.mode) << what;
    EXPECT_EQ(p.sender_period_seconds, x.period) << what;
    EXPECT_EQ(p.max_replies_per_thread, x.max_thread) << what;
    EXPECT_EQ(p.thread_replies_per_hour, x.per_hour) << what;
    EXPECT_EQ(p.loop_max_fast_turns, x.fast_turns) << what;
    EXPECT_EQ(p.loop_turn_seconds, x.mode == PolicyMode::kConversation ? 30 : 0) << what;
  }
}

TEST(Policy, BadValuesAreConfigErrors) {
  const char* bad[] = {
      "[handler.a]\nreply_policy = \"chatty\"\n",
      "[handler.a]\nthread_replies_per_hour = -1\n",
      "[handler.a]\nloop_turn_seconds = \"30\"\n",
      "[reply]\nloop_max_fast_turns = -2\n",
      "[[routes]]\nrecipient = \"a@example.com\"\nhandler = \"a\"\npolicy = \"never\"\n",
  };
  for (const char* text : bad) {
    EXPECT_THROW(Parse(text), config::ConfigError) << text;
  }
}

}  // namespace
}  // namespace threadmill::reply
