// dmarc_test.cc - DMARC (RFC 7489) with libopendmarc, `_dmarc` records from a real dnsmasq.
#include "auth/dmarc.h"

#include <gtest/gtest.h>

#include "auth/resolver.h"
#include "dns_fixture.h"

namespace threadmill::auth {
namespace {

using namespace std::chrono_literals;
using testing::World;

DmarcInput In(const std::string& from, const std::string& spf_domain, SpfResult spf,
              std::vector<std::pair<std::string, DkimResult>> dkim = {}) {
  DmarcInput in;
  in.from_headers = {"Someone <someone@" + from + ">"};
  in.client_ip = "192.0.2.10";
  in.spf.domain = spf_domain;
  in.spf.result = spf;
  for (auto& [d, r] : dkim) in.dkim.push_back({d, "sel", "rsa-sha256", 2048, r, ""});
  return in;
}

class auth_Dmarc : public ::testing::Test {
 protected:
  void SetUp() override {
    Init(World::Get().Options(), [] { return 0; });
  }
  void Init(const ResolverOptions& o, std::function<int()> sample) {
    auto r = Resolver::Create(o);
    ASSERT_TRUE(r.ok());
    resolver_ = std::move(r).value();
    DmarcOptions opt;
    opt.psl_path = World::Get().psl_path();
    opt.sample = std::move(sample);
    auto ev = DmarcEvaluator::Create(*resolver_, opt);
    ASSERT_TRUE(ev.ok()) << ev.error().message;
    dmarc_ = std::move(ev).value();
  }
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<DmarcEvaluator> dmarc_;
};

TEST_F(auth_Dmarc, Table) {
  using R = DmarcResult;
  using P = DmarcPolicy;
  const auto kPass = SpfResult::kPass;
  const auto kFail = SpfResult::kFail;
  struct Case {
    const char* name;
    DmarcInput in;
    R want;
    P policy;
    const char* policy_domain;
  } cases[] = {
      {"aligned spf", In("reject.example", "reject.example", kPass), R::kPass, P::kReject,
       "reject.example"},
      {"spf fail p=reject", In("reject.example", "reject.example", kFail), R::kFail, P::kReject,
       "reject.example"},
      {"p=quarantine", In("quarantine.example", "x.example", kPass), R::kFail, P::kQuarantine,
       "quarantine.example"},
      {"p=none", In("none.example", "x.example", kPass), R::kFail, P::kNone, "none.example"},
      {"relaxed spf via org domain", In("sub.org.example", "mail.org.example", kPass), R::kPass,
       P::kQuarantine, "org.example"},
      {"subdomain gets sp=", In("sub.org.example", "x.example", kPass), R::kFail, P::kQuarantine,
       "org.example"},
      {"subdomain without sp gets p", In("a.nosp.example", "x.example", kPass), R::kFail,
       P::kReject, "nosp.example"},
      {"aspf=s rejects subdomain spf", In("strict.example", "mail.strict.example", kPass), R::kFail,
       P::kReject, "strict.example"},
      {"adkim=s exact dkim passes",
       In("strict.example", "x.example", kFail, {{"strict.example", DkimResult::kPass}}), R::kPass,
       P::kReject, "strict.example"},
      {"adkim=s subdomain dkim fails",
       In("strict.example", "x.example", kFail, {{"s.strict.example", DkimResult::kPass}}),
       R::kFail, P::kReject, "strict.example"},
      {"relaxed dkim subdomain",
       In("reject.example", "x.example", kFail, {{"mail.reject.example", DkimResult::kPass}}),
       R::kPass, P::kReject, "reject.example"},
      {"unaligned dkim",
       In("reject.example", "x.example", kFail, {{"other.example", DkimResult::kPass}}), R::kFail,
       P::kReject, "reject.example"},
      {"failed aligned dkim",
       In("reject.example", "x.example", kFail, {{"reject.example", DkimResult::kFail}}), R::kFail,
       P::kReject, "reject.example"},
      {"syntax error", In("bad.example", "bad.example", kPass), R::kPermError, P::kNone, ""},
      {"two records = none", In("twice.example", "twice.example", kFail), R::kNone, P::kNone, ""},
      {"no record", In("nodmarc.example", "nodmarc.example", kFail), R::kNone, P::kNone, ""},
      {"spf temperror could align", In("reject.example", "reject.example", SpfResult::kTempError),
       R::kTempError, P::kNone, ""},
      {"dkim temperror could align",
       In("reject.example", "x.example", kFail, {{"reject.example", DkimResult::kTempError}}),
       R::kTempError, P::kNone, ""},
      {"temperror elsewhere does not hide a fail",
       In("reject.example", "x.example", SpfResult::kTempError), R::kFail, P::kReject,
       "reject.example"},
      {".test zone with PSL entry", In("x.trap.test", "y.example", kPass), R::kFail, P::kReject,
       "trap.test"},
  };
  for (const auto& c : cases) {
    DmarcOutcome got = dmarc_->Evaluate(c.in);
    EXPECT_STREQ(ToString(got.result), ToString(c.want)) << c.name << ": " << got.reason;
    if (got.result == R::kPass || got.result == R::kFail) {
      EXPECT_STREQ(ToString(got.policy), ToString(c.policy)) << c.name;
      EXPECT_EQ(got.policy_domain, c.policy_domain) << c.name;
    }
  }
}

TEST_F(auth_Dmarc, DispositionFollowsPolicyOnFail) {
  DmarcOutcome got = dmarc_->Evaluate(In("reject.example", "x.example", SpfResult::kPass));
  EXPECT_EQ(got.disposition, DmarcPolicy::kReject);
  EXPECT_EQ(got.from_domain, "reject.example");
  got = dmarc_->Evaluate(In("reject.example", "reject.example", SpfResult::kPass));
  EXPECT_EQ(got.disposition, DmarcPolicy::kNone);
  EXPECT_TRUE(got.spf_aligned);
  EXPECT_FALSE(got.dkim_aligned);
}

// A record that does not parse (p=bogus) publishes no policy: permerror with neither
// policy_domain nor p=, like OpenDMARC's "dmarc=permerror header.from=bad.example"
// (RFC 7489 section 6.6.3 item 6: an invalid p= leaves no policy to apply).
TEST_F(auth_Dmarc, BrokenRecordHasNoPolicy) {
  DmarcOutcome got = dmarc_->Evaluate(In("bad.example", "x.example", SpfResult::kFail));
  EXPECT_EQ(got.result, DmarcResult::kPermError) << got.reason;
  EXPECT_EQ(got.from_domain, "bad.example");
  EXPECT_EQ(got.policy_domain, "");
  EXPECT_EQ(got.policy, DmarcPolicy::kNone);
  EXPECT_EQ(got.disposition, DmarcPolicy::kNone);
}

TEST_F(auth_Dmarc, PctSampling) {
  // pct=20: a sample below 20 applies p=reject, otherwise the message is quarantined.
  Init(World::Get().Options(), [] { return 19; });
  DmarcOutcome got = dmarc_->Evaluate(In("pct.example", "x.example", SpfResult::kPass));
  EXPECT_EQ(got.pct, 20);
  EXPECT_EQ(got.disposition, DmarcPolicy::kReject);
  Init(World::Get().Options(), [] { return 20; });
  got = dmarc_->Evaluate(In("pct.example", "x.example", SpfResult::kPass));
  EXPECT_EQ(got.result, DmarcResult::kFail);
  EXPECT_EQ(got.policy, DmarcPolicy::kReject);
  EXPECT_EQ(got.disposition, DmarcPolicy::kQuarantine);
}

TEST_F(auth_Dmarc, FromHeaderCardinality) {
  DmarcInput in = In("reject.example", "reject.example", SpfResult::kPass);
  in.from_headers = {};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPermError);
  in.from_headers = {"a@reject.example", "b@other.example"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPermError);
  in.from_headers = {"a@reject.example, b@other.example"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPermError);
  in.from_headers = {"a@reject.example", "B <b@Reject.Example>"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPass);
  in.from_headers = {"undisclosed"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPermError);
}

TEST_F(auth_Dmarc, StoppedDnsServerIsTempErrorWithinTimeout) {
  auto dns = testing::DnsServer::Start({});
  ResolverOptions o;
  o.forwarders = {dns->forwarder()};
  o.use_resolv_conf = false;
  o.timeout = 600ms;
  Init(o, [] { return 0; });
  dns->Stop();
  auto start = std::chrono::steady_clock::now();
  DmarcOutcome got = dmarc_->Evaluate(In("reject.example", "x.example", SpfResult::kPass));
  EXPECT_EQ(got.result, DmarcResult::kTempError) << got.reason;
  EXPECT_LE(std::chrono::steady_clock::now() - start, 600ms + 400ms);
}

TEST(auth_DmarcFrom, ExtractFromDomainsTable) {
  struct {
    const char* in;
    std::vector<std::string> want;
  } cases[] = {
      {"alice@example.org", {"example.org"}},
      {"Alice <alice@Example.ORG>", {"example.org"}},
      {"\"Smith, Alice\" <alice@a.example>", {"a.example"}},
      {"a@x.example, b@y.example", {"x.example", "y.example"}},
      {"(comment) alice@example.org (another)", {"example.org"}},
      {"friends: a@x.example, b@y.example;", {"x.example", "y.example"}},
      {"\"odd@quoted\" <real@z.example>", {"z.example"}},
      {"no address here", {}},
      {"", {}},
  };
  for (const auto& c : cases) EXPECT_EQ(ExtractFromDomains(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace threadmill::auth
