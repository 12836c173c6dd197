// arc_policy_test.cc - the trusted-sealer override of a DMARC failure (RFC 8617 section 7.2):
// when it applies, and what enforcement, the decision-log fields and our A-R make of it.
#include "auth/arc_policy.h"

#include <gtest/gtest.h>

#include "auth/auth_results.h"
#include "auth/enforce.h"

namespace threadmill::auth {
namespace {

Verdicts Failed(const std::string& sealer, const std::string& aar,
                ArcResult arc = ArcResult::kPass) {
  Verdicts v;
  v.dmarc_checked = true;
  v.dmarc.result = DmarcResult::kFail;
  v.dmarc.from_domain = "author.example";
  v.dmarc.policy_domain = "author.example";
  v.dmarc.policy = DmarcPolicy::kReject;
  v.dmarc.disposition = DmarcPolicy::kReject;
  v.arc_checked = true;
  v.arc.result = arc;
  v.arc.instances = 1;
  v.arc.sealer_domain = sealer;
  if (arc == ArcResult::kPass) v.arc.hops = {{1, sealer, aar}};
  return v;
}

TEST(auth_ArcPolicy, WhenTheOverrideApplies) {
  const std::string pass = "mx.lists.example; dmarc=pass header.from=author.example";
  struct Case {
    const char* name;
    Verdicts v;
    std::vector<std::string> trusted;
    std::string want;
  } cases[] = {
      {"trusted sealer recorded pass",
       Failed("lists.example", pass),
       {"lists.example"},
       "lists.example"},
      {"trusted, upper-case config",
       Failed("lists.example", pass),
       {"Lists.Example"},
       "lists.example"},
      {"sealer not trusted", Failed("lists.example", pass), {"other.example"}, ""},
      {"no trusted sealers", Failed("lists.example", pass), {}, ""},
      {"chain failed", Failed("lists.example", pass, ArcResult::kFail), {"lists.example"}, ""},
      {"sealer recorded fail",
       Failed("lists.example", "mx.lists.example; dmarc=fail header.from=author.example"),
       {"lists.example"},
       ""},
      {"sealer recorded pass for another author",
       Failed("lists.example", "mx.lists.example; dmarc=pass header.from=other.example"),
       {"lists.example"},
       ""},
      {"sealer recorded no dmarc",
       Failed("lists.example", "mx.lists.example; spf=pass"),
       {"lists.example"},
       ""},
  };
  for (auto& c : cases) {
    ApplyArcOverride(c.trusted, &c.v);
    EXPECT_EQ(c.v.arc_override, c.want) << c.name;
    EXPECT_EQ(c.v.dmarc.result, DmarcResult::kFail) << c.name;  // never rewritten
  }
  // DMARC pass (or not checked): nothing to override.
  Verdicts ok = Failed("lists.example", pass);
  ok.dmarc.result = DmarcResult::kPass;
  ApplyArcOverride({"lists.example"}, &ok);
  EXPECT_EQ(ok.arc_override, "");
}

TEST(auth_ArcPolicy, OverrideIsNotEnforcedAndIsReported) {
  Verdicts v = Failed("lists.example", "mx.lists.example; dmarc=pass header.from=author.example");
  EXPECT_EQ(DecideDmarcEnforcement(v, true).action, DmarcPolicy::kReject);
  EXPECT_EQ(v.Summary(),
            "dmarc=fail spf=none dkim=none dmarc_policy=reject arc=pass "
            "arc_sealer=lists.example");
  ApplyArcOverride({"lists.example"}, &v);
  EXPECT_EQ(DecideDmarcEnforcement(v, true).action, DmarcPolicy::kNone);
  EXPECT_EQ(v.Summary(),
            "dmarc=fail spf=none dkim=none dmarc_policy=reject arc=pass "
            "arc_sealer=lists.example dmarc_override=arc "
            "policy.arc-override=lists.example");
  EXPECT_EQ(BuildAuthResults(v, "mx.rcpt.example", 5),
            "mx.rcpt.example;\r\n\tdmarc=fail reason=\"arc\" (p=reject dis=none) "
            "header.from=author.example policy.dmarc=reject "
            "policy.arc-override=lists.example;\r\n\tarc=pass (sealer lists.example) "
            "header.oldest-pass=0");
  // A failed chain: its reason in the log and the A-R; enforcement as without ARC.
  Verdicts f = Failed("lists.example", "", ArcResult::kFail);
  f.arc.reason = "ams-body-hash";
  ApplyArcOverride({"lists.example"}, &f);
  EXPECT_EQ(DecideDmarcEnforcement(f, true).action, DmarcPolicy::kReject);
  EXPECT_EQ(f.Summary(),
            "dmarc=fail spf=none dkim=none dmarc_policy=reject arc=fail "
            "arc_sealer=lists.example arc_reason=ams-body-hash");
  EXPECT_NE(BuildAuthResults(f, "mx.rcpt.example", 5)
                .find("arc=fail (sealer lists.example, ams-body-hash)"),
            std::string::npos);
}

}  // namespace
}  // namespace threadmill::auth
