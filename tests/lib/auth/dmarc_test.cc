// dmarc_test.cc - DMARC (RFC 7489) with libopendmarc, `_dmarc` records from a real dnsmasq.
#include "auth/dmarc.h"

#include <gtest/gtest.h>

#include "auth/resolver.h"
#include "auth/verdicts.h"
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
  // Two From fields are never a pass, even in one domain (RFC 5322 allows one field).
  in.from_headers = {"a@reject.example", "B <b@Reject.Example>"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPermError);
  // One field with one domain (however many mailboxes) is what DMARC processes (RFC 7489
  // section 6.6.1: "a single From: field with a single domain in it").
  in.from_headers = {"a@reject.example, B <b@Reject.Example>"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPass);
  in.from_headers = {" A <a@reject.example>"};  // one field, one author: can pass
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPass);
  in.from_headers = {"undisclosed"};
  EXPECT_EQ(dmarc_->Evaluate(in).result, DmarcResult::kPermError);
}

// RFC 7489 section 6.6.1: every author domain is evaluated; the strictest failing policy
// decides; never a pass; header.from names the failing domain, not the alphabetically first.
TEST_F(auth_Dmarc, SeveralAuthorDomainsTable) {
  struct Case {
    const char* name;
    std::vector<std::string> from;
    std::vector<std::pair<std::string, DkimResult>> dkim;
    DmarcResult want;
    DmarcPolicy disposition;
    const char* header_from;
  } cases[] = {
      {"second mailbox of a p=reject domain",
       {"a@aaa.example, ceo@reject.example"},
       {{"aaa.example", DkimResult::kPass}},
       DmarcResult::kPermError,
       DmarcPolicy::kReject,
       "reject.example"},
      {"second From field",
       {"a@aaa.example", "ceo@reject.example"},
       {{"aaa.example", DkimResult::kPass}},
       DmarcResult::kPermError,
       DmarcPolicy::kReject,
       "reject.example"},
      {"quarantine and none: strictest",
       {"a@none.example, b@quarantine.example, c@aa.example"},
       {},
       DmarcResult::kPermError,
       DmarcPolicy::kQuarantine,
       "quarantine.example"},
      {"reject beats quarantine",
       {"q@quarantine.example, r@reject.example"},
       {},
       DmarcResult::kPermError,
       DmarcPolicy::kReject,
       "reject.example"},
      {"junk second <address>",
       {"<ceo@reject.example> <x@other.example>"},
       {{"other.example", DkimResult::kPass}},
       DmarcResult::kPermError,
       DmarcPolicy::kReject,
       "reject.example"},
      {"junk first <address>",
       {"<x@other.example> <ceo@reject.example>"},
       {{"other.example", DkimResult::kPass}},
       DmarcResult::kPermError,
       DmarcPolicy::kReject,
       "reject.example"},
      {"both pass: still no pass",
       {"a@reject.example, b@quarantine.example"},
       {{"reject.example", DkimResult::kPass}, {"quarantine.example", DkimResult::kPass}},
       DmarcResult::kPermError,
       DmarcPolicy::kNone,
       "reject.example"},
      {"no policies: first in message order",
       {"a@zz.example, b@aa.example"},
       {},
       DmarcResult::kPermError,
       DmarcPolicy::kNone,
       "zz.example"},
      // One field with one domain is what DMARC processes, however many mailboxes it names.
      {"one field, two mailboxes of one domain, aligned",
       {"a@reject.example, b@reject.example"},
       {{"reject.example", DkimResult::kPass}},
       DmarcResult::kPass,
       DmarcPolicy::kNone,
       "reject.example"},
      {"one field, two mailboxes of one domain, unaligned",
       {"a@reject.example, b@reject.example"},
       {},
       DmarcResult::kFail,
       DmarcPolicy::kReject,
       "reject.example"},
      {"two fields of one domain",
       {"a@reject.example", "b@reject.example"},
       {{"reject.example", DkimResult::kPass}},
       DmarcResult::kPermError,
       DmarcPolicy::kNone,
       "reject.example"},
  };
  for (const auto& c : cases) {
    DmarcInput in = In("x.example", "unrelated.example", SpfResult::kPass, c.dkim);
    in.from_headers = c.from;
    DmarcOutcome got = dmarc_->Evaluate(in);
    EXPECT_STREQ(ToString(got.result), ToString(c.want)) << c.name << ": " << got.reason;
    EXPECT_STREQ(ToString(got.disposition), ToString(c.disposition)) << c.name;
    EXPECT_EQ(got.from_domain, c.header_from) << c.name;
    // A policy is claimed only for the failing domain whose disposition applies (a pass of
    // one domain names that domain's record, as for a single author).
    if (got.result != DmarcResult::kPass) {
      EXPECT_EQ(got.policy_domain.empty(), c.disposition == DmarcPolicy::kNone) << c.name;
    }
  }
}

TEST_F(auth_Dmarc, MoreAuthorDomainsThanTheCapAreRejectedWhenEnforcing) {
  auto r = Resolver::Create(World::Get().Options());
  ASSERT_TRUE(r.ok());
  DmarcOptions opt;
  opt.psl_path = World::Get().psl_path();
  opt.max_author_domains = 2;
  auto ev = DmarcEvaluator::Create(**r, opt);
  ASSERT_TRUE(ev.ok());
  DmarcInput in = In("x.example", "unrelated.example", SpfResult::kPass);
  in.from_headers = {"a@a.example, b@b.example, c@reject.example"};
  DmarcOutcome got = (*ev)->Evaluate(in);
  EXPECT_EQ(got.result, DmarcResult::kPermError);
  EXPECT_EQ(got.disposition, DmarcPolicy::kReject);
  EXPECT_NE(got.reason.find("max_author_domains"), std::string::npos) << got.reason;
  Verdicts v;  // the cap hit is logged on the decision line
  v.dmarc_checked = true;
  v.dmarc = got;
  EXPECT_NE(v.Summary().find("dmarc_reason=several author addresses: 3 author domains, more "
                             "than max_author_domains (2)"),
            std::string::npos)
      << v.Summary();
  in.from_headers = {"a@a.example, b@b.example"};  // at the cap: evaluated
  EXPECT_EQ((*ev)->Evaluate(in).disposition, DmarcPolicy::kNone);
}

// RFC 7489 section 6.6.3 and the section 6.4 grammar.
TEST_F(auth_Dmarc, RecordDiscoveryTable) {
  struct Case {
    const char* from;
    DmarcResult want;
    const char* policy_domain;
  } cases[] = {
      {"sub.multi.example", DmarcResult::kNone, ""},  // two records: no fallback to p=reject
      {"multi.example", DmarcResult::kFail, "multi.example"},
      {"twice.example", DmarcResult::kNone, ""},
      {"lower.example", DmarcResult::kNone, ""},                 // v=dmarc1: discarded
      {"sub.lower.example", DmarcResult::kNone, ""},             // and no fallback finds it
      {"spaces.example", DmarcResult::kFail, "spaces.example"},  // "v = DMARC1 ;" is valid
      {"junkv.example", DmarcResult::kNone, ""},                 // v=DMARC1x: not a DMARC record
      {"sub.org.example", DmarcResult::kFail, "org.example"},    // one record: fallback
  };
  for (const auto& c : cases) {
    DmarcOutcome got = dmarc_->Evaluate(In(c.from, "unrelated.example", SpfResult::kPass));
    EXPECT_STREQ(ToString(got.result), ToString(c.want)) << c.from << ": " << got.reason;
    EXPECT_EQ(got.policy_domain, c.policy_domain) << c.from;
  }
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
  EXPECT_LE(std::chrono::steady_clock::now() - start, 600ms + 1000ms);
}

TEST(auth_DmarcFrom, AuthorDomainsTable) {
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
      {"<ceo@reject.example> <x@other.example>", {"reject.example", "other.example"}},
      {"Boss <ceo@reject.example> (x@other.example)", {"reject.example"}},
      {"\"x@other.example\" <ceo@reject.example>", {"reject.example"}},
      {"ceo@reject.example.", {"reject.example"}},
  };
  for (const auto& c : cases) EXPECT_EQ(AuthorDomains({c.in}), c.want) << c.in;
}

}  // namespace
}  // namespace threadmill::auth
