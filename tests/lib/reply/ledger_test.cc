// The replied-once / rate-limit ledger on a real LMDB environment in a temporary directory.
#include "reply/ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

namespace threadmill::reply {
namespace {

std::shared_ptr<store::Environment> OpenEnv(const std::string& path) {
  store::EnvOptions options;
  options.path = path;
  options.map_size_bytes = size_t{16} << 20;
  auto env = store::Environment::Open(options);
  EXPECT_TRUE(env.ok()) << env.error().message;
  return *env;
}

LedgerEntry Proposed(std::string id, int64_t time, std::string handler = "h") {
  LedgerEntry e;
  e.reply_id = std::move(id);
  e.state = "pending";
  e.time = time;
  e.handler = std::move(handler);
  e.message = "Subject: x\n\nbody\n";
  e.envelope_sender = "help@example.com";
  e.recipients = {"alice@example.org"};
  return e;
}

TEST(Ledger, OncePerMessageAndRecipient) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits limits{"alice@example.org", "T1", 0, 0};
  auto first = ledger.Claim("m1@x", "help@example.com", limits, Proposed("r1@x", 100));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->reply_id, "r1@x");
  // Still pending: a retry gets the same stored message back, not a new reply.
  auto again = ledger.Claim("m1@x", "HELP@example.com", limits, Proposed("r2@x", 101));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reply_id, "r1@x");
  EXPECT_EQ(again->message, "Subject: x\n\nbody\n");
  ASSERT_TRUE(ledger.MarkSent("m1@x", "help@example.com").ok());
  auto third = ledger.Claim("m1@x", "help@example.com", limits, Proposed("r3@x", 102));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kRefused);
  EXPECT_EQ(third.error().message, "already-replied");
  // Another local recipient of the same message may be answered.
  EXPECT_TRUE(ledger.Claim("m1@x", "sales@example.com", limits, Proposed("r4@x", 103)).ok());
  auto found = ledger.Find("m1@x", "help@example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->state, "sent");
  EXPECT_TRUE((*found)->message.empty());
}

TEST(Ledger, DurableAcrossReopen) {
  testing::TempDir dir;
  {
    ReplyLedger ledger(OpenEnv(dir.str()));
    ASSERT_TRUE(ledger.Claim("m1@x", "help@example.com", {}, Proposed("r1@x", 1)).ok());
    ASSERT_TRUE(ledger.MarkSent("m1@x", "help@example.com").ok());
  }
  ReplyLedger ledger(OpenEnv(dir.str()));
  auto again = ledger.Claim("m1@x", "help@example.com", {}, Proposed("r2@x", 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "already-replied");
}

TEST(Ledger, SenderPeriod) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits limits{"alice@example.org", "", 3600, 0};
  ASSERT_TRUE(ledger.Claim("m1@x", "help@example.com", limits, Proposed("r1@x", 1000)).ok());
  auto soon = ledger.Claim("m2@x", "help@example.com", limits, Proposed("r2@x", 2000));
  ASSERT_FALSE(soon.ok());
  EXPECT_EQ(soon.error().message, "rate-sender");
  // Another handler has its own period.
  EXPECT_TRUE(
      ledger.Claim("m2@x", "help@example.com", limits, Proposed("r3@x", 2000, "other")).ok());
  // After the period.
  EXPECT_TRUE(ledger.Claim("m3@x", "help@example.com", limits, Proposed("r4@x", 4601)).ok());
}

TEST(Ledger, RateKeyAddressNormalisesCaseAndSubaddress) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"victim@example.org", "victim@example.org"},
      {"Victim@Example.ORG", "victim@example.org"},
      {"Victim+2@example.org", "victim@example.org"},
      {"victim+a+b@EXAMPLE.org.", "victim@example.org"},
      {"victim-2@example.org", "victim-2@example.org"},  // "-" is not a delimiter here
      {"+only@example.org", "+only@example.org"},        // no mailbox before the tag
      {"\"A+B\"@example.org", "\"a+b\"@example.org"},
      {"nodomain", "nodomain"},
  };
  for (const auto& c : cases) EXPECT_EQ(RateKeyAddress(c.in), c.want) << c.in;
}

TEST(Ledger, SenderPeriodCountsSubaddressesAsOneSender) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits limits{"victim@example.org", "", 3600, 0};
  ASSERT_TRUE(ledger.Claim("m1@x", "help@example.com", limits, Proposed("r1@x", 100)).ok());
  for (const char* sender :
       {"Victim+2@example.org", "VICTIM@EXAMPLE.ORG", "victim+x@Example.org"}) {
    limits.sender = sender;
    auto again =
        ledger.Claim(std::string("m-") + sender, "help@example.com", limits, Proposed("r2@x", 200));
    ASSERT_FALSE(again.ok()) << sender;
    EXPECT_EQ(again.error().message, "rate-sender") << sender;
  }
  limits.sender = "victim-2@example.org";  // another mailbox
  EXPECT_TRUE(ledger.Claim("m9@x", "help@example.com", limits, Proposed("r9@x", 300)).ok());
}

TEST(Ledger, ThreadCap) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits limits{"alice@example.org", "T9", 0, 2};
  ASSERT_TRUE(ledger.Claim("m1@x", "h@example.com", limits, Proposed("r1@x", 1)).ok());
  ASSERT_TRUE(ledger.Claim("m2@x", "h@example.com", limits, Proposed("r2@x", 2)).ok());
  auto third = ledger.Claim("m3@x", "h@example.com", limits, Proposed("r3@x", 3));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().message, "rate-thread");
}

TEST(Ledger, RacingClaimsGiveOneReply) {
  testing::TempDir dir;
  auto env = OpenEnv(dir.str());
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      ReplyLedger ledger(env);
      auto got =
          ledger.Claim("m1@x", "help@example.com", {}, Proposed("r" + std::to_string(i) + "@x", 1));
      if (got.ok() && got->reply_id == "r" + std::to_string(i) + "@x") ++fresh;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 1);
}

TEST(Ledger, SendOncePerJobIndex) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  LedgerEntry p = Proposed("s1@x", 1);
  p.thread_id = "T1";
  auto a = ledger.ClaimSend("J1", 0, p);
  ASSERT_TRUE(a.ok());
  LedgerEntry q = Proposed("s2@x", 2);
  q.thread_id = "T2";
  auto b = ledger.ClaimSend("J1", 0, q);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->thread_id, "T1");
  ASSERT_TRUE(ledger.MarkSendDone("J1", 0).ok());
  auto c = ledger.ClaimSend("J1", 0, q);
  EXPECT_EQ(c->state, "sent");
  EXPECT_EQ(ledger.ClaimSend("J1", 1, q)->thread_id, "T2");
}

TEST(Ledger, SweepKeepsPending) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ASSERT_TRUE(
      ledger.Claim("m1@x", "h@example.com", {"a@x", "T1", 60, 5}, Proposed("r1@x", 10)).ok());
  ASSERT_TRUE(ledger.MarkSent("m1@x", "h@example.com").ok());
  ASSERT_TRUE(ledger.Claim("m2@x", "h@example.com", {}, Proposed("r2@x", 10)).ok());
  auto removed = ledger.Sweep(100);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 4u);  // once m1, two rate entries, thread; m2 still pending
  EXPECT_FALSE(ledger.Find("m1@x", "h@example.com")->has_value());
  EXPECT_TRUE(ledger.Find("m2@x", "h@example.com")->has_value());
}

}  // namespace
}  // namespace threadmill::reply
