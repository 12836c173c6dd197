// resolver_test.cc - threadmill::auth::Resolver against a real dnsmasq.
#include "auth/resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "dns_fixture.h"

namespace threadmill::auth {
namespace {

using testing::World;
using namespace std::chrono_literals;

std::unique_ptr<Resolver> Make(const ResolverOptions& o) {
  auto r = Resolver::Create(o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(r).value();
}

// A UDP socket that swallows queries: a DNS server that never answers.
struct BlackHole {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int port = 0;
  BlackHole() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~BlackHole() { close(fd); }
};

TEST(auth_Resolver, StatusTable) {
  auto r = Make(World::Get().Options());
  struct Case {
    const char* name;
    uint16_t type;
    DnsStatus want;
  } cases[] = {
      {"pass.spf.example", kTypeTxt, DnsStatus::kAnswer},
      {"amx.spf.example", kTypeA, DnsStatus::kAnswer},
      {"amx.spf.example", kTypeMx, DnsStatus::kAnswer},
      {"nothing-here.spf.example", kTypeTxt, DnsStatus::kNxDomain},
      {"helo.spf.example", kTypeA, DnsStatus::kNoData},
  };
  for (const auto& c : cases) {
    DnsResult got = r->Query(c.name, c.type);
    EXPECT_EQ(ToString(got.status), std::string(ToString(c.want))) << c.name << " " << got.error;
  }
}

TEST(auth_Resolver, RecordsDecoded) {
  auto r = Make(World::Get().Options());
  DnsResult a = r->Query("amx.spf.example", kTypeA);
  ASSERT_EQ(a.records.size(), 1u);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a.records[0].data(), buf, sizeof buf);
  EXPECT_STREQ(buf, "203.0.113.5");
  DnsResult mx = r->Query("amx.spf.example", kTypeMx);
  ASSERT_EQ(mx.records.size(), 1u);
  EXPECT_EQ(mx.records[0], "mx.amx.spf.example");
  EXPECT_EQ(mx.mx_preference.at(0), 10);
  EXPECT_FALSE(mx.packet.empty());
}

TEST(auth_Resolver, TxtStringsOfOneRecordAreJoined) {
  auto r = Make(World::Get().Options());
  DnsResult t = r->Query("split.spf.example", kTypeTxt);
  ASSERT_EQ(t.status, DnsStatus::kAnswer);
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.records[0], "v=spf1 ip4:192.0.2.0/24 " + std::string(240, ' ') + "-all");
  DnsResult key = r->Query("sel1._domainkey.dkim.example", kTypeTxt);
  ASSERT_EQ(key.records.size(), 1u);
  EXPECT_GT(key.records[0].size(), 255u);
  EXPECT_EQ(key.records[0], World::Get().key1().record);
}

TEST(auth_Resolver, SeveralRecordsAreSeparate) {
  auto r = Make(World::Get().Options());
  DnsResult t = r->Query("multi.spf.example", kTypeTxt);
  EXPECT_EQ(t.records.size(), 2u);
}

TEST(auth_Resolver, TimeoutIsTempFailWithinTheDeadline) {
  BlackHole hole;
  ResolverOptions o;
  o.forwarders = {"127.0.0.1@" + std::to_string(hole.port)};
  o.use_resolv_conf = false;
  o.timeout = 700ms;
  auto r = Make(o);
  auto start = std::chrono::steady_clock::now();
  DnsResult got = r->Query("pass.spf.example", kTypeTxt);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got.status, DnsStatus::kTempFail);
  EXPECT_LE(elapsed, 700ms + 1000ms);  // slack: a loaded machine wakes threads late
  EXPECT_GE(elapsed, 650ms);           // it really waited for the answer
}

TEST(auth_Resolver, StoppedServerIsTempFail) {
  auto dns = testing::DnsServer::Start({testing::TxtLine("pass.spf.example", "v=spf1 -all")});
  ResolverOptions o;
  o.forwarders = {dns->forwarder()};
  o.use_resolv_conf = false;
  o.timeout = 1000ms;
  auto r = Make(o);
  EXPECT_EQ(r->Query("pass.spf.example", kTypeTxt).status, DnsStatus::kAnswer);
  dns->Stop();
  auto start = std::chrono::steady_clock::now();
  DnsResult got = r->Query("other.spf.example", kTypeTxt);  // not cached
  EXPECT_EQ(got.status, DnsStatus::kTempFail);
  EXPECT_LE(std::chrono::steady_clock::now() - start, 1000ms + 1000ms);
  // The cached answer still comes back.
  EXPECT_EQ(r->Query("pass.spf.example", kTypeTxt).status, DnsStatus::kAnswer);
}

// The upstream going silent is said once (after upstream_down_after failed queries, not per
// query), and its return once; cached answers count for neither.
TEST(auth_Resolver, UpstreamDownAndUpAreLoggedOnce) {
  auto dns = testing::DnsServer::Start({testing::TxtLine("pass.spf.example", "v=spf1 -all")});
  struct Event {
    bool up;
    std::string text;
  };
  std::mutex mu;
  std::vector<Event> events;
  ResolverOptions o;
  o.forwarders = {dns->forwarder()};
  o.use_resolv_conf = false;
  o.timeout = 300ms;
  o.upstream_down_after = 3;
  o.on_upstream_change = [&](bool up, const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back({up, text});
  };
  auto r = Make(o);
  int n = 0;
  auto fresh = [&] { return "n" + std::to_string(++n) + ".health.example"; };  // never cached
  EXPECT_EQ(r->Query("pass.spf.example", kTypeTxt).status, DnsStatus::kAnswer);
  EXPECT_EQ(r->Query(fresh(), kTypeTxt).status, DnsStatus::kNxDomain);
  dns->Freeze();
  struct Step {
    int queries;
    size_t want_events;
  } steps[] = {{2, 0}, {1, 1}, {4, 1}};  // the third failure in a row says "down", once
  for (const auto& step : steps) {
    for (int i = 0; i < step.queries; ++i) {
      EXPECT_EQ(r->Query(fresh(), kTypeTxt).status, DnsStatus::kTempFail);
    }
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(events.size(), step.want_events);
  }
  EXPECT_EQ(r->Query("pass.spf.example", kTypeTxt).status, DnsStatus::kAnswer);  // cached
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_FALSE(events[0].up);
    EXPECT_NE(events[0].text.find("upstream=down"), std::string::npos) << events[0].text;
    EXPECT_NE(events[0].text.find("failed=3"), std::string::npos) << events[0].text;
  }
  dns->Thaw();
  // unbound may still give a SERVFAIL or two for a server it just saw time out: the first
  // answer within a deadline ends the outage.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  DnsStatus got = DnsStatus::kTempFail;
  while (got == DnsStatus::kTempFail && std::chrono::steady_clock::now() < deadline) {
    got = r->Query(fresh(), kTypeTxt).status;
  }
  EXPECT_EQ(got, DnsStatus::kNxDomain);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r->Query(fresh(), kTypeTxt).status, DnsStatus::kNxDomain);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].up);
  EXPECT_NE(events[1].text.find("upstream=up"), std::string::npos) << events[1].text;
}

// A message whose DNS budget is spent still gets what the resolver knows.
TEST(auth_Resolver, CachedAnswersComeBackPastTheDeadline) {
  auto r = Make(World::Get().Options());
  ASSERT_EQ(r->Query("pass.spf.example", kTypeTxt).status, DnsStatus::kAnswer);
  auto past = std::chrono::steady_clock::now() - 1s;
  DnsResult cached = r->Query("PASS.spf.example.", kTypeTxt, past);
  EXPECT_EQ(cached.status, DnsStatus::kAnswer) << cached.error;
  EXPECT_EQ(cached.records.size(), 1u);
  EXPECT_EQ(r->Query("include.spf.example", kTypeTxt, past).status, DnsStatus::kTempFail);
  EXPECT_EQ(r->Query("pass.spf.example", kTypeA, past).status, DnsStatus::kTempFail);
}

TEST(auth_Resolver, QueryAllWaitsForAllAtOnce) {
  auto r = Make(World::Get().Options());
  std::vector<std::pair<std::string, uint16_t>> q = {{"pass.spf.example", kTypeTxt},
                                                     {"nothere.spf.example", kTypeTxt},
                                                     {"amx.spf.example", kTypeMx}};
  auto got = r->QueryAll(q, std::chrono::steady_clock::now() + 2s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].status, DnsStatus::kAnswer);
  EXPECT_EQ(got[1].status, DnsStatus::kNxDomain);
  EXPECT_EQ(got[2].status, DnsStatus::kAnswer);
}

TEST(auth_Resolver, TestTldNeedsTransparentLocalZone) {
  ResolverOptions o = World::Get().Options();
  auto with = Make(o);
  EXPECT_EQ(with->Query("pass.spf.test", kTypeTxt).status, DnsStatus::kAnswer);
  o.unbound_options.clear();
  auto without = Make(o);
  EXPECT_EQ(without->Query("pass.spf.test", kTypeTxt).status, DnsStatus::kNxDomain);
}

TEST(auth_Resolver, ConcurrentQueriesFromManyThreads) {
  auto r = Make(World::Get().Options());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const char* name = (i + t) % 2 ? "pass.spf.example" : "sel1._domainkey.dkim.example";
        if (r->Query(name, kTypeTxt).status == DnsStatus::kAnswer) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 200);
}

TEST(auth_Resolver, BadOptionIsAnError) {
  ResolverOptions o;
  o.use_resolv_conf = false;
  o.unbound_options = {{"no-such-option:", "1"}};
  EXPECT_FALSE(Resolver::Create(o).ok());
  o.unbound_options.clear();
  o.forwarders = {"not an address"};
  EXPECT_FALSE(Resolver::Create(o).ok());
}

}  // namespace
}  // namespace threadmill::auth
