// spf_test.cc - SPF (RFC 7208) through libspf2 on threadmill's resolver and a real dnsmasq.
#include "auth/spf.h"

#include <gtest/gtest.h>

#include "auth/resolver.h"
#include "dns_fixture.h"

namespace threadmill::auth {
namespace {

using namespace std::chrono_literals;

class auth_Spf : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Resolver::Create(testing::World::Get().Options());
    ASSERT_TRUE(r.ok());
    resolver_ = std::move(r).value();
    spf_ = MakeSpfChecker(*resolver_);
  }
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<SpfChecker> spf_;
};

TEST_F(auth_Spf, MailFromTable) {
  struct Case {
    const char* ip;
    const char* from;
    SpfResult want;
  } cases[] = {
      {"192.0.2.10", "user@pass.spf.example", SpfResult::kPass},
      {"198.51.100.1", "user@pass.spf.example", SpfResult::kFail},
      {"198.51.100.1", "user@softfail.spf.example", SpfResult::kSoftFail},
      {"192.0.2.10", "user@softfail.spf.example", SpfResult::kPass},
      {"198.51.100.1", "user@neutral.spf.example", SpfResult::kNeutral},
      {"192.0.2.99", "user@include.spf.example", SpfResult::kPass},
      {"198.51.100.1", "user@include.spf.example", SpfResult::kFail},
      {"192.0.2.99", "user@redirect.spf.example", SpfResult::kPass},
      {"198.51.100.1", "user@redirect.spf.example", SpfResult::kFail},
      {"203.0.113.5", "user@amx.spf.example", SpfResult::kPass},  // a
      {"203.0.113.6", "user@amx.spf.example", SpfResult::kPass},  // mx
      {"203.0.113.7", "user@amx.spf.example", SpfResult::kFail},
      {"192.0.2.10", "user@syntax.spf.example", SpfResult::kPermError},
      {"192.0.2.10", "user@multi.spf.example", SpfResult::kPermError},
      {"192.0.2.10", "user@toomany.spf.example", SpfResult::kPermError},
      {"192.0.2.10", "user@nospf.spf.example", SpfResult::kNone},
      {"192.0.2.10", "user@nxdomain.spf.example", SpfResult::kNone},
      {"2001:db8:1::25", "user@v6.spf.example", SpfResult::kPass},
      {"IPv6:2001:db8:2::25", "user@v6.spf.example", SpfResult::kFail},
      {"2001:db8::1", "<user@pass.spf.example>", SpfResult::kPass},
      // RFC 7208 section 4.6.4 and 6, which libspf2 does not enforce by itself.
      {"192.0.2.10", "user@eleventh.spf.example", SpfResult::kPermError},
      {"192.0.2.10", "user@tenth.spf.example", SpfResult::kPass},
      {"192.0.2.10", "user@voids3.spf.example", SpfResult::kPermError},
      {"192.0.2.10", "user@voids2.spf.example", SpfResult::kPass},
      {"192.0.2.10", "user@redirect2.spf.example", SpfResult::kPermError},
      // Section 4.3: not a multi-label domain name: none.
      {"192.0.2.10", "user@localhost", SpfResult::kNone},
  };
  for (const auto& c : cases) {
    SpfOutcome got = spf_->CheckMailFrom(c.ip, "client.example", c.from);
    EXPECT_STREQ(ToString(got.result), ToString(c.want))
        << c.from << " from " << c.ip << ": " << got.reason;
    EXPECT_EQ(got.scope, SpfScope::kMailFrom);
  }
}

TEST_F(auth_Spf, DomainIsTheMailFromDomain) {
  SpfOutcome got = spf_->CheckMailFrom("192.0.2.10", "h.example", "Someone@Pass.SPF.example");
  EXPECT_EQ(got.domain, "pass.spf.example");
  EXPECT_EQ(got.identity, "Someone@Pass.SPF.example");
}

TEST_F(auth_Spf, HeloTable) {
  EXPECT_EQ(spf_->CheckHelo("192.0.2.10", "helo.spf.example").result, SpfResult::kPass);
  EXPECT_EQ(spf_->CheckHelo("192.0.2.11", "helo.spf.example").result, SpfResult::kFail);
  SpfOutcome o = spf_->CheckHelo("192.0.2.10", "helo.spf.example");
  EXPECT_EQ(o.scope, SpfScope::kHelo);
  EXPECT_EQ(o.domain, "helo.spf.example");
}

// RFC 7208 section 4.3: a HELO address literal is not a domain: none, nothing asked.
TEST_F(auth_Spf, HeloAddressLiteralIsNone) {
  for (const char* helo : {"[192.0.2.10]", "[IPv6:2001:db8::1]", "192.0.2.10", "localhost"}) {
    SpfOutcome o = spf_->CheckHelo("192.0.2.10", helo);
    EXPECT_EQ(o.result, SpfResult::kNone) << helo << ": " << o.reason;
    EXPECT_EQ(spf_->CheckMailFrom("192.0.2.10", helo, "").result, SpfResult::kNone) << helo;
  }
}

TEST_F(auth_Spf, NullReversePathChecksHelo) {
  SpfOutcome o = spf_->CheckMailFrom("192.0.2.11", "helo.spf.example", "");
  EXPECT_EQ(o.result, SpfResult::kFail);
  EXPECT_EQ(o.identity, "postmaster@helo.spf.example");
}

// The result comment names this receiver (the authserv-id), not the machine's host name
// that libspf2 would use by default.
TEST_F(auth_Spf, CommentNamesTheReceivingDomain) {
  auto spf = MakeSpfChecker(*resolver_, "mx.rcpt.example");
  SpfOutcome o = spf->CheckMailFrom("192.0.2.10", "client.example", "user@pass.spf.example");
  EXPECT_EQ(o.result, SpfResult::kPass);
  EXPECT_EQ(o.reason.rfind("mx.rcpt.example: ", 0), 0u) << o.reason;
}

TEST(auth_SpfDns, StoppedServerIsTempErrorWithinTimeout) {
  auto dns = testing::DnsServer::Start({testing::TxtLine("x.example", "v=spf1 -all")});
  ResolverOptions o;
  o.forwarders = {dns->forwarder()};
  o.use_resolv_conf = false;
  o.timeout = 800ms;
  auto r = Resolver::Create(o);
  ASSERT_TRUE(r.ok());
  auto spf = MakeSpfChecker(**r);
  dns->Stop();
  auto start = std::chrono::steady_clock::now();
  SpfOutcome got = spf->CheckMailFrom("192.0.2.10", "h.example", "user@pass.spf.example");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got.result, SpfResult::kTempError) << got.reason;
  EXPECT_LE(elapsed, 800ms + 1000ms);  // slack: a loaded machine wakes threads late
}

}  // namespace
}  // namespace threadmill::auth
