// auth_results_test.cc - building and parsing Authentication-Results (RFC 8601).
#include "auth/auth_results.h"

#include <gtest/gtest.h>

namespace threadmill::auth {
namespace {

Verdicts Sample() {
  Verdicts v;
  v.spf_checked = true;
  v.spf = {SpfResult::kPass, SpfScope::kMailFrom, "x.example", "user@x.example", "ok"};
  v.dkim.push_back({"x.example", "sel1", "rsa-sha256", 2048, DkimResult::kPass, ""});
  v.dkim.push_back({"y.example", "s", "rsa-sha256", 0, DkimResult::kFail, "bad signature"});
  v.dmarc_checked = true;
  v.dmarc.result = DmarcResult::kPass;
  v.dmarc.from_domain = "x.example";
  v.dmarc.policy_domain = "x.example";
  v.dmarc.policy = DmarcPolicy::kReject;
  return v;
}

TEST(auth_Results, BuildThenParseRoundTrip) {
  std::string value = BuildAuthResults(Sample(), "mx.rcpt.example");
  EXPECT_EQ(value.rfind("mx.rcpt.example;", 0), 0u) << value;
  EXPECT_NE(value.find("spf=pass"), std::string::npos);
  EXPECT_NE(value.find("smtp.mailfrom=user@x.example"), std::string::npos);
  EXPECT_NE(value.find("dkim=pass (2048-bit key) header.d=x.example header.s=sel1"),
            std::string::npos)
      << value;
  EXPECT_NE(value.find("dmarc=pass (p=reject dis=none) header.from=x.example"), std::string::npos)
      << value;
  auto parsed = ParseAuthResults(value);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->authserv_id, "mx.rcpt.example");
  ASSERT_EQ(parsed->methods.size(), 4u);
  EXPECT_EQ(parsed->methods[2].reason, "bad signature");
  Verdicts back = VerdictsFromAuthResults(*parsed);
  EXPECT_EQ(back.Summary(),
            "dmarc=pass spf=pass dkim=pass dmarc_policy=reject auth_from=mx.rcpt.example");
  EXPECT_EQ(back.dkim.size(), 2u);
  EXPECT_EQ(back.dkim[1].result, DkimResult::kFail);
  EXPECT_TRUE(back.DmarcPassed());
}

TEST(auth_Results, NothingCheckedIsNone) {
  EXPECT_EQ(BuildAuthResults(Verdicts{}, "mx.example"), "mx.example; none");
}

TEST(auth_Results, ParseTable) {
  struct Case {
    const char* in;
    bool ok;
    const char* id;
    size_t methods;
  } cases[] = {
      {"example.org; none", true, "example.org", 0},
      {"example.org 1; spf=pass smtp.mailfrom=a@b.example", true, "example.org", 1},
      {"example.org (comment); dkim=fail reason=\"bad; sig\" header.d=b.example", true,
       "example.org", 1},
      {"\"quoted.id\"; dmarc=fail (p=reject) header.from=b.example", true, "quoted.id", 1},
      {"mx.example;\r\n\tspf=pass smtp.mailfrom=x@y.example;\r\n\tdkim=pass header.i=@y.example",
       true, "mx.example", 2},
      {"example.org; spf", false, "", 0},
      {"", false, "", 0},
      {"example.org x; spf=pass", false, "", 0},
  };
  for (const auto& c : cases) {
    auto got = ParseAuthResults(c.in);
    ASSERT_EQ(got.ok(), c.ok) << c.in;
    if (!c.ok) continue;
    EXPECT_EQ(got->authserv_id, c.id) << c.in;
    EXPECT_EQ(got->methods.size(), c.methods) << c.in;
  }
}

TEST(auth_Results, ReasonAndPropertiesParsed) {
  auto got = ParseAuthResults("e.org; dkim=fail reason=\"bad; sig\" header.d=B.example");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->methods[0].reason, "bad; sig");
  EXPECT_EQ(got->methods[0].Property("header.d"), "B.example");
  EXPECT_EQ(got->methods[0].Property("header.s"), "");
}

TEST(auth_Results, ClaimsAuthservId) {
  EXPECT_TRUE(ClaimsAuthservId("MX.Rcpt.Example; dkim=pass", "mx.rcpt.example"));
  EXPECT_TRUE(ClaimsAuthservId("  mx.rcpt.example ; garbage ((", "mx.rcpt.example"));
  EXPECT_TRUE(ClaimsAuthservId("(c) mx.rcpt.example; none", "mx.rcpt.example"));
  EXPECT_FALSE(ClaimsAuthservId("mx.rcpt.example.evil; none", "mx.rcpt.example"));
  EXPECT_FALSE(ClaimsAuthservId("other.example; none", "mx.rcpt.example"));
}

TEST(auth_Results, UpstreamHeloAndIdentity) {
  auto got =
      ParseAuthResults("up.example; spf=fail smtp.helo=h.example; dkim=pass header.i=@d.example");
  ASSERT_TRUE(got.ok());
  Verdicts v = VerdictsFromAuthResults(*got);
  EXPECT_TRUE(v.from_upstream);
  EXPECT_EQ(v.spf.scope, SpfScope::kHelo);
  EXPECT_EQ(v.spf.domain, "h.example");
  ASSERT_EQ(v.dkim.size(), 1u);
  EXPECT_EQ(v.dkim[0].domain, "d.example");
  EXPECT_FALSE(v.DmarcPassed());
}

TEST(auth_Results, CommentsAreKeptPerResinfo) {
  auto parsed = ParseAuthResults(
      "opendmarc.rig (one); dmarc=fail (p=reject dis=none) header.from=x.example (two);"
      " spf=pass smtp.mailfrom=x.example");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->methods.size(), 2u);
  EXPECT_EQ(parsed->methods[0].comments, (std::vector<std::string>{"p=reject dis=none", "two"}));
  EXPECT_TRUE(parsed->methods[1].comments.empty());
}

// OpenDMARC writes the policy only as a comment: "dmarc=fail (p=reject dis=none)".
TEST(auth_Results, UpstreamPolicyFromOpenDmarcComment) {
  struct {
    const char* value;
    DmarcPolicy policy;
    bool has_policy;
  } cases[] = {
      {"o.rig; dmarc=fail (p=reject dis=none) header.from=x.example", DmarcPolicy::kReject, true},
      {"o.rig; dmarc=fail (p=QUARANTINE dis=NONE) header.from=x.example", DmarcPolicy::kQuarantine,
       true},
      {"o.rig; dmarc=fail (p=none dis=none) header.from=x.example", DmarcPolicy::kNone, true},
      {"o.rig; dmarc=fail (sp=reject) header.from=x.example", DmarcPolicy::kNone, false},
      {"o.rig; dmarc=permerror header.from=x.example", DmarcPolicy::kNone, false},
      {"o.rig; dmarc=fail (p=none) header.from=x.example policy.dmarc=reject", DmarcPolicy::kReject,
       true},
  };
  for (const auto& c : cases) {
    auto parsed = ParseAuthResults(c.value);
    ASSERT_TRUE(parsed.ok()) << c.value;
    Verdicts v = VerdictsFromAuthResults(*parsed);
    EXPECT_EQ(v.dmarc.policy, c.policy) << c.value;
    EXPECT_EQ(v.dmarc.policy_domain, c.has_policy ? "x.example" : "") << c.value;
    EXPECT_EQ(v.dmarc.disposition, c.policy) << c.value;
  }
}

TEST(auth_Results, UpstreamFieldsMerge) {
  std::vector<ParsedAuthResults> fields;
  for (const char* value : {"opendmarc.rig; dmarc=pass (p=none dis=none) header.from=x.example",
                            "opendmarc.rig; spf=pass smtp.mailfrom=a@x.example",
                            "opendkim.rig; dkim=pass header.d=x.example header.s=s1",
                            "OpenDKIM.rig; dkim=fail header.d=y.example header.s=s2; spf=fail "
                            "smtp.mailfrom=b@y.example"}) {
    auto parsed = ParseAuthResults(value);
    ASSERT_TRUE(parsed.ok()) << value;
    fields.push_back(*parsed);
  }
  Verdicts v = VerdictsFromAuthResults(fields);
  EXPECT_EQ(v.Summary(),
            "dmarc=pass spf=pass dkim=pass dmarc_policy=none "
            "auth_from=opendmarc.rig,opendkim.rig");
  ASSERT_EQ(v.dkim.size(), 2u);
  EXPECT_EQ(v.dkim[1].domain, "y.example");
  EXPECT_EQ(v.spf.domain, "x.example");
}

}  // namespace
}  // namespace threadmill::auth
