// filter/reauth.h: a spooled job authenticated again with the milter's own Authenticator, on
// a real dnsmasq that is frozen (DNS down) and thawed (DNS back).
#include "filter/reauth.h"

#include <gtest/gtest.h>

#include "lib/auth/dns_fixture.h"

namespace threadmill::filter {
namespace {

using namespace std::chrono_literals;
using auth::testing::World;

TEST(filter_Reauth, SplitSpooledTable) {
  struct Case {
    const char* raw;
    std::vector<std::pair<std::string, std::string>> fields;
    const char* body;
  } cases[] = {
      {"From: a@b\r\nSubject: x\r\n\r\nbody\r\n",
       {{"From", " a@b"}, {"Subject", " x"}},
       "body\r\n"},
      {"Subject:  folded\r\n\tline two\r\nTo:c@d\r\n\r\n",
       {{"Subject", "  folded\r\n\tline two"}, {"To", "c@d"}},
       ""},
      {"From: a@b\nX: y\n\nbare LF\n", {{"From", " a@b"}, {"X", " y"}}, "bare LF\n"},
      {"no colon here\r\nFrom: a@b\r\n\r\nb", {{"From", " a@b"}}, "b"},
      {"From: a@b\r\n", {{"From", " a@b"}}, ""},  // headers only
      {"\r\nbody only", {}, "body only"},
  };
  for (const auto& c : cases) {
    SpooledMessage got = SplitSpooled(c.raw);
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& [n, v] : got.fields) fields.emplace_back(std::string(n), std::string(v));
    EXPECT_EQ(fields, c.fields) << c.raw;
    EXPECT_EQ(got.body, c.body) << c.raw;
  }
}

TEST(filter_Reauth, SameVerdictsAsTheMilterOnceDnsAnswers) {
  World& world = World::Get();
  auto dns = auth::testing::DnsServer::Start(auth::testing::ZoneLines(world.key1(), world.key2()));
  auth::AuthOptions o;
  o.dns = world.Options(500ms);
  o.dns.forwarders = {dns->forwarder()};
  o.psl_path = world.psl_path();
  o.authserv_id = "mx.rcpt.example";
  o.message_dns_budget = 1000ms;
  auto created = auth::Authenticator::Create(o);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::shared_ptr<auth::Authenticator> authenticator(std::move(created).value());
  SpoolReauthenticator reauth(authenticator);

  auth::testing::Message m;
  m.headers = {{"From", "Alice <alice@dkim.example>"},
               {"To", "bob@rcpt.example"},
               {"Subject", "hello\r\n folded"},
               {"Message-ID", "<42@dkim.example>"}};
  m.body = "Hi Bob.\r\n";
  auth::testing::SignInPlace(world.key1(), &m);
  std::string raw;  // as the milter spools it
  for (const auto& [n, v] : m.headers) raw += n + ":" + m.Value(v) + "\r\n";
  raw += "\r\n" + m.body;

  runtime::Job job;
  job.client_addr = "192.0.2.10";
  job.helo = "client.example";
  job.mail_from = "alice@dkim.example";
  job.queue_id = "Q1";

  dns->Freeze();
  runtime::ReauthVerdict down = reauth.Reauthenticate(job, raw);
  EXPECT_EQ(down.dmarc, "temperror");
  EXPECT_EQ(down.spf, "temperror");
  EXPECT_FALSE(down.sender_authenticated);
  dns->Thaw();
  // The resolver may need a query or two to see the server again: a bounded wait.
  runtime::ReauthVerdict up;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    up = reauth.Reauthenticate(job, raw);
  } while (up.dmarc == "temperror" && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(up.dmarc, "pass");
  EXPECT_EQ(up.spf, "pass");
  EXPECT_EQ(up.dkim, "pass");
  EXPECT_TRUE(up.sender_authenticated);
  EXPECT_TRUE(up.error.empty());

  // The milter's path over the same message gives the same verdicts.
  auto msg = authenticator->Begin(job.client_addr, job.helo, job.queue_id);
  msg->EnvelopeFrom(job.mail_from);
  for (const auto& [n, v] : m.headers) msg->Header(n, m.Value(v));
  msg->EndOfHeaders();
  msg->Body(m.body);
  EXPECT_EQ(msg->Finish().Summary(), "dmarc=pass spf=pass dkim=pass dmarc_policy=reject");

  // A spoofed From (not signed by its domain) is a real fail, not a DNS problem.
  std::string spoof = raw;
  spoof.replace(spoof.find("alice@dkim.example"), 18, "alice@other.example");
  runtime::ReauthVerdict fail = reauth.Reauthenticate(job, spoof);
  EXPECT_NE(fail.dmarc, "pass");
  EXPECT_NE(fail.dmarc, "temperror");
}

}  // namespace
}  // namespace threadmill::filter
