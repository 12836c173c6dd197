// Tests of the decision line: typed outcome and verdicts rendered in their fixed order.
#include "filter/decision.h"

#include <gtest/gtest.h>

namespace threadmill::filter {
namespace {

Envelope OneRecipient() {
  Envelope envelope;
  envelope.queue_id = "Q1";
  envelope.mail_from = "a@example.org";
  envelope.recipients = {"b@example.net"};
  return envelope;
}

TEST(DecisionTest, OutcomeNames) {
  const std::pair<Outcome, const char*> cases[] = {
      {Outcome::kRecorded, "recorded"},     {Outcome::kMatched, "matched"},
      {Outcome::kNewThread, "new-thread"},  {Outcome::kQueued, "queued"},
      {Outcome::kNoReply, "no-reply"},      {Outcome::kError, "error"},
      {Outcome::kUnthreaded, "unthreaded"},
  };
  for (const auto& [outcome, name] : cases) EXPECT_STREQ(ToString(outcome), name);
}

TEST(DecisionTest, WithoutAuthenticationTheLineHasNoVerdicts) {
  Decision d;
  d.outcome = Outcome::kMatched;
  EXPECT_FALSE(d.auth_checked());
  EXPECT_FALSE(d.dmarc_passed());
  EXPECT_STREQ(d.dmarc_result(), "none");
  std::string line = d.LogLine(OneRecipient());
  EXPECT_NE(line.find("decision=matched reason="), std::string::npos) << line;
  EXPECT_EQ(line.find("dmarc="), std::string::npos) << line;
}

TEST(DecisionTest, VerdictsFollowTheReasonAndPrecedeExtraKeys) {
  Decision d;
  d.outcome = Outcome::kQueued;
  auth::Verdicts v;
  v.dmarc_checked = v.spf_checked = true;
  v.dmarc.result = auth::DmarcResult::kTempError;
  v.spf.result = auth::SpfResult::kSoftFail;
  d.verdicts = v;
  d.extra_log.emplace_back("handler", "bot");
  EXPECT_TRUE(d.auth_checked());
  EXPECT_FALSE(d.dmarc_passed());
  EXPECT_STREQ(d.dmarc_result(), "temperror");
  EXPECT_STREQ(d.spf_result(), "softfail");
  EXPECT_STREQ(d.dkim_result(), "none");
  std::string line = d.LogLine(OneRecipient());
  size_t decision = line.find("decision=queued");
  size_t dmarc = line.find("dmarc=temperror spf=softfail dkim=none");
  size_t handler = line.find("handler=bot");
  ASSERT_NE(decision, std::string::npos) << line;
  ASSERT_NE(dmarc, std::string::npos) << line;
  ASSERT_NE(handler, std::string::npos) << line;
  EXPECT_LT(decision, dmarc);
  EXPECT_LT(dmarc, handler);
}

}  // namespace
}  // namespace threadmill::filter
