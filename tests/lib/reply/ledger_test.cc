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

// Conversation policy (issue 10): an hourly token bucket per thread, refilled with time.
TEST(Ledger, ThreadRepliesPerHour) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits limits;
  limits.sender = "alice@example.org";
  limits.thread_id = "T1";
  limits.thread_replies_per_hour = 2;
  struct {
    int64_t time;
    const char* want;  // "" = claimed
  } cases[] = {{1000, ""},
               {1001, ""},
               {1002, "rate-thread-hour"},
               {1001 + 1800, ""},  // half an hour: one token back
               {1001 + 1801, "rate-thread-hour"},
               {1001 + 1800 + 3600, ""}};
  int n = 0;
  for (const auto& c : cases) {
    std::string id = "m" + std::to_string(++n) + "@x";
    auto got = ledger.Claim(id, "help@example.com", limits, Proposed("r" + id, c.time));
    EXPECT_EQ(got.ok() ? "" : got.error().message, c.want) << "case " << n;
    if (got.ok()) {
      ASSERT_TRUE(ledger.MarkSent(id, "help@example.com").ok());
    }
  }
}

// The loop guard: fast turns of one sender in a row (the message arrived less than
// loop_turn_seconds after the last reply, or before it) are answered loop_max_fast_turns
// times; the next fast one is refused; a slow one resets the count.
TEST(Ledger, LoopGuardCountsFastTurnsInARow) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  struct {
    int64_t inbound;  // arrival of the message
    int64_t reply;    // time of the reply
    const char* want;
  } cases[] = {
      {1000, 1005, ""},      // first: no earlier reply
      {1010, 1015, ""},      // 5 s after the reply: fast turn 1
      {1020, 1025, ""},      // fast turn 2
      {1030, 1035, "loop"},  // third fast turn in a row: refused
      {1034, 1036, "loop"},  // still faster than a person
      {1100, 1105, ""},      // 65 s after the last reply: a person's pace, count reset
      {1104, 1110, ""},      // arrived before the last reply went out: fast turn 1
      {1200, 1201, ""},      // slow again
  };
  int n = 0;
  for (const auto& c : cases) {
    ClaimLimits limits;
    limits.sender = "Bot+x@Example.org";
    limits.thread_id = "T" + std::to_string(n);  // the guard is per sender, not per thread
    limits.loop_turn_seconds = 30;
    limits.loop_max_fast_turns = 2;
    limits.inbound_time = c.inbound;
    std::string id = "m" + std::to_string(++n) + "@x";
    auto predicted = ledger.Check(id, "help@example.com", limits, "h", c.reply);
    ASSERT_TRUE(predicted.ok());
    EXPECT_EQ(*predicted, c.want) << "case " << n << " (Check)";
    auto got = ledger.Claim(id, "help@example.com", limits, Proposed("r" + id, c.reply));
    EXPECT_EQ(got.ok() ? "" : got.error().message, c.want) << "case " << n;
    if (got.ok()) {
      ASSERT_TRUE(ledger.MarkSent(id, "help@example.com").ok());
    }
  }
  // Another handler has its own count.
  ClaimLimits other;
  other.sender = "bot@example.org";
  other.loop_turn_seconds = 30;
  other.loop_max_fast_turns = 2;
  other.inbound_time = 1202;
  EXPECT_EQ(*ledger.Check("z@x", "help@example.com", other, "h2", 1203), "");
}

// Check predicts what Claim answers, without changing anything.
TEST(Ledger, CheckPredictsClaim) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits vacation{"alice@example.org", "T1", 3600, 3};
  EXPECT_EQ(*ledger.Check("m1@x", "help@example.com", vacation, "h", 1000), "");
  EXPECT_EQ(*ledger.Check("m1@x", "help@example.com", vacation, "h", 1000), "");  // read-only
  ASSERT_TRUE(ledger.Claim("m1@x", "help@example.com", vacation, Proposed("r1@x", 1000)).ok());
  // Claimed but not sent: a retry resumes it, nothing refused.
  EXPECT_EQ(*ledger.Check("m1@x", "help@example.com", vacation, "h", 1001), "");
  ASSERT_TRUE(ledger.MarkSent("m1@x", "help@example.com").ok());
  EXPECT_EQ(*ledger.Check("m1@x", "help@example.com", vacation, "h", 1002), "already-replied");
  EXPECT_EQ(*ledger.Check("m2@x", "help@example.com", vacation, "h", 1002), "rate-sender");
  EXPECT_EQ(*ledger.Check("m2@x", "help@example.com", vacation, "other", 1002), "");
  EXPECT_EQ(*ledger.Check("m2@x", "help@example.com", vacation, "h", 1000 + 3600), "");
  ClaimLimits capped{"bob@example.org", "T1", 0, 1};
  EXPECT_EQ(*ledger.Check("m3@x", "help@example.com", capped, "h", 1002), "rate-thread");
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

// The loop guard's per-sender entries are swept by age like the rate entries, never early
// (a young one keeps counting fast turns across sweeps).
TEST(Ledger, SweepKeepsYoungLoopGuardEntries) {
  testing::TempDir dir;
  ReplyLedger ledger(OpenEnv(dir.str()));
  ClaimLimits limits;
  limits.sender = "bot@example.org";
  limits.loop_turn_seconds = 30;
  limits.loop_max_fast_turns = 1;
  limits.inbound_time = 1000;
  ASSERT_TRUE(ledger.Claim("m1@x", "h@example.com", limits, Proposed("r1@x", 1000)).ok());
  limits.inbound_time = 1005;
  ASSERT_TRUE(ledger.Claim("m2@x", "h@example.com", limits, Proposed("r2@x", 1006)).ok());
  ASSERT_TRUE(ledger.Sweep(500).ok());  // everything is younger
  limits.inbound_time = 1010;
  EXPECT_EQ(*ledger.Check("m3@x", "h@example.com", limits, "h", 1011), "loop");
  ASSERT_TRUE(ledger.MarkSent("m1@x", "h@example.com").ok());
  ASSERT_TRUE(ledger.MarkSent("m2@x", "h@example.com").ok());
  ASSERT_TRUE(ledger.Sweep(2000).ok());  // all older: the guard forgets
  EXPECT_EQ(*ledger.Check("m3@x", "h@example.com", limits, "h", 1011), "");
}

}  // namespace
}  // namespace threadmill::reply
