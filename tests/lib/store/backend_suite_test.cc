// backend_suite_test.cc - ONE suite for the store interface (thread_backend.h,
// ledger_backend.h), run against every backend: LMDB in a temporary directory and
// PostgreSQL in a private cluster (tests/support/pg_cluster.h) started once for this binary.
//
// "Hosts": each test may open the store twice. For PostgreSQL the two are separate
// connection pools on the same database (two MX hosts); for LMDB they share the environment
// (two workers of one host; LMDB allows one environment per file per process). The
// PostgreSQL cases skip (GTEST_SKIP, with the reason) only when the server binaries are absent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend_fixture.h"
#include "common/unique_fd.h"
#include "reply/ledger.h"
#include "store/lmdb_ledger_backend.h"
#include "store/lmdb_thread_backend.h"
#include "store/open_store.h"
#include "store/postgresql/pg_ledger_backend.h"
#include "store/postgresql/pg_pool.h"
#include "store/postgresql/pg_process_backends.h"
#include "store/postgresql/pg_schema.h"
#include "store/postgresql/pg_thread_backend.h"
#include "store/thread_store.h"
#include "support/pg_cluster.h"
#include "support/pg_database.h"
#include "thread/resolver.h"
#include "temp_env.h"

namespace threadmill::store {
namespace {

threadmill::testing::PgCluster* Cluster() { return testing::SuiteCluster(); }

MessageRecord Msg(std::string msgid, std::string thread_id, int64_t time,
                  std::string from = "a@example.org", std::vector<std::string> to = {}) {
  MessageRecord rec;
  rec.msgid = std::move(msgid);
  rec.thread_id = std::move(thread_id);
  rec.direction = Direction::kOutbound;
  rec.time = time;
  rec.from = std::move(from);
  rec.to = std::move(to);
  rec.subject = "subject";
  rec.queue_id = "Q" + std::to_string(time);
  return rec;
}

reply::LedgerEntry Proposed(std::string id, int64_t time, std::string message = "") {
  reply::LedgerEntry e;
  e.reply_id = std::move(id);
  e.state = "pending";
  e.time = time;
  e.handler = "h";
  e.message = std::move(message);
  e.recipients = {"alice@example.org"};
  return e;
}

class store_backend_suite : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "lmdb") {
      EnvOptions options;
      options.path = dir_.path();
      options.map_size_bytes = size_t{16} << 20;
      options.sync_each_commit = false;  // the suite tests semantics, not durability
      auto env = Environment::Open(options);
      ASSERT_TRUE(env.ok()) << env.error().message;
      env_ = *env;
      return;
    }
    threadmill::testing::PgCluster* cluster = Cluster();
    threadmill::testing::NewDatabaseOrSkip(cluster, &dsn_);
    if (dsn_.empty()) return;  // skipped or failed
    for (auto& pool : pools_) {
      auto opened = pg::PgPool::Open(dsn_);
      ASSERT_TRUE(opened.ok()) << opened.error().message;
      pool = *opened;
    }
  }

  std::shared_ptr<ThreadBackend> ThreadOf(int host) {
    if (env_) return std::make_shared<LmdbThreadBackend>(env_);
    return std::make_shared<pg::PgThreadBackend>(pools_[host]);
  }
  std::shared_ptr<LedgerBackend> LedgerOf(int host) {
    if (env_) return std::make_shared<LmdbLedgerBackend>(env_);
    return std::make_shared<pg::PgLedgerBackend>(pools_[host]);
  }
  ThreadStore Store(int host = 0) { return ThreadStore(ThreadOf(host)); }
  reply::ReplyLedger Ledger(int host = 0) { return reply::ReplyLedger(LedgerOf(host)); }
  // Runs body(host, store) on hosts 0 and 1 at once, each in a thread of its own with its own
  // ThreadStore (Store(host)); returns when both have finished.
  void OnBothHosts(const std::function<void(int host, ThreadStore& store)>& body) {
    std::vector<std::thread> hosts;
    for (int host = 0; host < 2; ++host) {
      hosts.emplace_back([&, host] {
        ThreadStore store = Store(host);
        body(host, store);
      });
    }
    for (auto& t : hosts) t.join();
  }

  testing::TempDir dir_;
  std::shared_ptr<Environment> env_;
  std::string dsn_;
  std::shared_ptr<pg::PgPool> pools_[2];
};

INSTANTIATE_TEST_SUITE_P(Backends, store_backend_suite,
                         ::testing::Values(std::string("lmdb"), std::string("postgresql")),
                         [](const auto& info) { return info.param; });

TEST_P(store_backend_suite, RecordFindAndThreadAcrossHosts) {
  ThreadStore mx1 = Store(0), mx2 = Store(1);
  const std::string long_id = std::string(4000, 'l') + "@example.org";
  const std::string odd_id("\x01odd\xff@example.org", 17);
  MessageRecord first = Msg("q1@example.com", "", 100, "help@example.com", {"a@example.org"});
  first.owner = "helpdesk";
  auto stored = mx1.RecordMessage(first, "ROOT-1");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_EQ(stored->thread_id.size(), 21u);
  // The answer arrives at the other host: it finds the question and joins its thread.
  auto question = mx2.FindMessage("q1@example.com");
  ASSERT_TRUE(question.ok() && question->has_value());
  EXPECT_EQ((*question)->thread_id, stored->thread_id);
  EXPECT_EQ((*question)->owner, "helpdesk");
  for (const std::string& id : {long_id, odd_id}) {
    MessageRecord answer = Msg(id, stored->thread_id, 200, "A@example.org", {"help@example.com"});
    answer.direction = Direction::kInbound;
    auto rec = mx2.RecordMessage(answer, "ROOT-2");
    ASSERT_TRUE(rec.ok()) << rec.error().message;
    auto back = mx1.FindMessage(id);
    ASSERT_TRUE(back.ok() && back->has_value());
    EXPECT_EQ(**back, answer);
  }
  auto thread = mx1.FindThread(stored->thread_id);
  ASSERT_TRUE(thread.ok() && thread->has_value());
  EXPECT_EQ((*thread)->message_count, 3u);
  EXPECT_EQ((*thread)->created, 100);
  EXPECT_EQ((*thread)->updated, 200);
  EXPECT_EQ((*thread)->owner, "helpdesk");
  EXPECT_EQ((*thread)->participants,
            (std::vector<std::string>{"help@example.com", "a@example.org"}));
  EXPECT_EQ((*thread)->thread_index_roots, (std::vector<std::string>{"ROOT-1", "ROOT-2"}));
  EXPECT_EQ(*mx2.FindThreadByIndex("ROOT-1"), std::optional<std::string>(stored->thread_id));
  EXPECT_FALSE(mx2.FindThreadByIndex("ROOT-3")->has_value());
  EXPECT_FALSE(mx2.FindMessage("nobody@x")->has_value());
  EXPECT_FALSE(mx2.FindThread("T0000")->has_value());
  auto messages = mx2.ThreadMessages(stored->thread_id, 10);
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 3u);
  EXPECT_EQ((*messages)[0].msgid, "q1@example.com");
  EXPECT_EQ(mx2.ThreadMessages(stored->thread_id, 1)->size(), 1u);
}

TEST_P(store_backend_suite, RecordIsIdempotentAndTakesTheOutboundEchoQueueId) {
  ThreadStore store = Store();
  MessageRecord mine = Msg("reply@example.com", "", 100, "help@example.com", {"a@example.org"});
  mine.queue_id.clear();
  auto stored = store.RecordMessage(mine);
  ASSERT_TRUE(stored.ok());
  MessageRecord echo = Msg("reply@example.com", "", 300, "x@y", {"z@y"});
  echo.queue_id = "4XyZ";
  auto after = Store(1).RecordMessage(echo);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->queue_id, "4XyZ");
  EXPECT_EQ(after->time, 100);
  EXPECT_EQ(after->thread_id, stored->thread_id);
  echo.queue_id = "5ABC";
  EXPECT_EQ(store.RecordMessage(echo)->queue_id, "4XyZ");
  EXPECT_EQ((*store.FindThread(stored->thread_id))->message_count, 1u);
}

TEST_P(store_backend_suite, SetThreadOwner) {
  ThreadStore store = Store();
  auto stored = store.RecordMessage(Msg("o@x", "", 100));
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(store.SetThreadOwner(stored->thread_id, "sales").ok());
  EXPECT_EQ((*Store(1).FindThread(stored->thread_id))->owner, "sales");
  Status missing = store.SetThreadOwner("T-none", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// The console's thread search pages through every thread (admin/thread_search.h): each host
// lists every host's threads, in id order, a page after the last id of the one before.
TEST_P(store_backend_suite, ListThreadsPagesInIdOrderAcrossHosts) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto stored = Store(i % 2).RecordMessage(Msg("list" + std::to_string(i) + "@x", "", 100 + i));
    ASSERT_TRUE(stored.ok()) << stored.error().message;
    ids.push_back(stored->thread_id);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> listed;
  std::string after;
  for (int page = 0; page < 4; ++page) {
    auto threads = Store(1).ListThreads(after, 2);
    ASSERT_TRUE(threads.ok()) << threads.error().message;
    EXPECT_LE(threads->size(), 2u);
    if (threads->empty()) break;
    for (const auto& t : *threads) {
      listed.push_back(t.thread_id);
      EXPECT_EQ(t.message_count, 1u);
      EXPECT_EQ(t.subject, "subject");
    }
    after = threads->back().thread_id;
  }
  EXPECT_EQ(listed, ids);
  EXPECT_TRUE(Store(0).ListThreads(ids.back(), 10)->empty());
}

// RecordMessage hands back the thread as it stored it (the milter routes by its owner without
// a FindThread after): the same as a FindThread right after, on both backends and whichever
// path recorded it (new thread, reply after the parent's lookup, a thread another host
// changed meanwhile); nothing for a Message-ID known already.
TEST_P(store_backend_suite, RecordHandsBackTheThreadAsStored) {
  ThreadStore mx1 = Store(0), mx2 = Store(1);
  std::optional<ThreadRecord> after;
  auto first = mx1.RecordMessage(Msg("t1@x", "", 100), "ROOT-T", &after);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, **mx2.FindThread(first->thread_id));
  EXPECT_EQ(after->thread_index_roots, (std::vector<std::string>{"ROOT-T"}));
  ASSERT_TRUE(mx2.SetThreadOwner(first->thread_id, "sales").ok());
  // A reply on the host that did not record the thread, after its parent's lookup.
  ASSERT_TRUE(mx2.FindMessage("t1@x")->has_value());
  MessageRecord reply = Msg("t2@x", first->thread_id, 200, "b@example.org");
  reply.direction = Direction::kInbound;
  reply.parent = "t1@x";
  ASSERT_TRUE(mx2.RecordMessage(reply, {}, &after).ok());
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->owner, "sales");
  EXPECT_EQ(after->message_count, 2u);
  EXPECT_EQ(*after, **mx1.FindThread(first->thread_id));
  // mx1's view of the thread is stale now (mx2 wrote it): still the stored record back.
  ASSERT_TRUE(mx1.FindMessage("t1@x")->has_value());
  ASSERT_TRUE(mx2.SetThreadOwner(first->thread_id, "support").ok());
  MessageRecord late = Msg("t3@x", first->thread_id, 300);
  late.parent = "t1@x";
  ASSERT_TRUE(mx1.RecordMessage(late, {}, &after).ok());
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->owner, "support");
  EXPECT_EQ(after->message_count, 3u);
  EXPECT_EQ(*after, **mx2.FindThread(first->thread_id));
  // Known already: nothing stored, nothing handed back.
  ASSERT_TRUE(mx2.RecordMessage(Msg("t1@x", "", 400), {}, &after).ok());
  EXPECT_FALSE(after.has_value());
}

TEST_P(store_backend_suite, SweepRemovesOldMessagesEmptyThreadsAndTheirIndex) {
  ThreadStore store = Store();
  auto old_thread = store.RecordMessage(Msg("old1@x", "", 100), "ROOT-OLD");
  ASSERT_TRUE(old_thread.ok());
  ASSERT_TRUE(store.RecordMessage(Msg("old2@x", old_thread->thread_id, 150)).ok());
  auto mixed = store.RecordMessage(Msg("mix-old@x", "", 120));
  ASSERT_TRUE(mixed.ok());
  ASSERT_TRUE(store.RecordMessage(Msg("mix-new@x", mixed->thread_id, 500)).ok());
  auto swept = Store(1).Sweep(200);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(swept->messages, 3u);
  EXPECT_EQ(swept->threads, 1u);
  EXPECT_FALSE(store.FindThread(old_thread->thread_id)->has_value());
  EXPECT_FALSE(store.FindThreadByIndex("ROOT-OLD")->has_value());
  EXPECT_FALSE(store.FindMessage("old1@x")->has_value());
  auto kept = store.FindThread(mixed->thread_id);
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->message_count, 1u);
  EXPECT_EQ((*kept)->recent_msgids, std::vector<std::string>{"mix-new@x"});
  EXPECT_EQ(store.Sweep(200)->messages, 0u);
}

TEST_P(store_backend_suite, SweepWorksInBatches) {
  ThreadStore store = Store();
  auto first = store.RecordMessage(Msg("b0@x", "", 1));
  ASSERT_TRUE(first.ok());
  for (size_t i = 1; i < kSweepBatch + 5; ++i) {
    ASSERT_TRUE(
        store.RecordMessage(Msg("b" + std::to_string(i) + "@x", first->thread_id, 1 + i)).ok());
  }
  auto swept = store.Sweep(100000);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(swept->messages, kSweepBatch + 5);
  EXPECT_EQ(swept->threads, 1u);
}

// Two hosts append to one thread at the same time: no update of the thread record is lost.
TEST_P(store_backend_suite, ConcurrentRecordsIntoOneThreadLoseNothing) {
  auto seed = Store().RecordMessage(Msg("seed@x", "", 1));
  ASSERT_TRUE(seed.ok());
  constexpr int kPerHost = 25;
  std::atomic<int> failures{0};
  OnBothHosts([&](int host, ThreadStore& store) {
    for (int i = 0; i < kPerHost; ++i) {
      std::string id = "h" + std::to_string(host) + "-" + std::to_string(i) + "@x";
      auto got = store.RecordMessage(Msg(id, seed->thread_id, 10 + i));
      if (!got.ok()) {
        ++failures;
        ADD_FAILURE() << id << ": " << got.error().message;
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*Store().FindThread(seed->thread_id))->message_count, 1u + 2 * kPerHost);
  EXPECT_EQ(Store(1).ThreadMessages(seed->thread_id)->size(), 1u + 2 * kPerHost);
}

// The milter's reply path on two hosts at once: each looks the parent up, then records its
// reply into the parent's thread (PostgreSQL: a compare-and-swap of the thread record that
// the other host keeps invalidating, so many swaps fail and fall back to the locking path).
TEST_P(store_backend_suite, ConcurrentRepliesIntoOneThreadLoseNothing) {
  auto seed = Store().RecordMessage(Msg("seed@x", "", 1));
  ASSERT_TRUE(seed.ok());
  constexpr int kPerHost = 25;
  std::atomic<int> failures{0};
  OnBothHosts([&](int host, ThreadStore& store) {
    for (int i = 0; i < kPerHost; ++i) {
      auto parent = store.FindMessage("seed@x");
      if (!parent.ok() || !parent->has_value()) {
        ++failures;
        continue;
      }
      MessageRecord reply = Msg("re" + std::to_string(host) + "-" + std::to_string(i) + "@x",
                                (*parent)->thread_id, 10 + i);
      reply.direction = Direction::kInbound;
      reply.parent = "seed@x";
      reply.match = "in-reply-to";
      auto got = store.RecordMessage(reply);
      if (!got.ok()) {
        ++failures;
        ADD_FAILURE() << reply.msgid << ": " << got.error().message;
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  auto thread = Store().FindThread(seed->thread_id);
  ASSERT_TRUE(thread.ok() && thread->has_value());
  EXPECT_EQ((*thread)->message_count, 1u + 2 * kPerHost);
  EXPECT_EQ(Store(1).ThreadMessages(seed->thread_id)->size(), 1u + 2 * kPerHost);
}

// Two hosts record the same Message-IDs at the same time (one message delivered to both):
// each is stored once, both hosts get the same record, the thread counts it once.
TEST_P(store_backend_suite, ConcurrentSameMessageIdIsStoredOnce) {
  auto seed = Store().RecordMessage(Msg("seed@x", "", 1));
  ASSERT_TRUE(seed.ok());
  constexpr int kIds = 25;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> threads(2);
  OnBothHosts([&](int host, ThreadStore& store) {
    for (int i = 0; i < kIds; ++i) {
      auto got = store.RecordMessage(
          Msg("both-" + std::to_string(i) + "@x", host == 0 ? seed->thread_id : "", 10 + i));
      if (!got.ok()) {
        ++failures;
        ADD_FAILURE() << got.error().message;
        continue;
      }
      threads[host].push_back(got->thread_id);
    }
  });
  ASSERT_EQ(failures.load(), 0);
  // Whichever host stored an id first decided its thread; the other host was told that one.
  EXPECT_EQ(threads[0], threads[1]);
  size_t in_seed = 0;
  for (const std::string& id : threads[0]) in_seed += id == seed->thread_id ? 1 : 0;
  EXPECT_EQ((*Store().FindThread(seed->thread_id))->message_count, 1u + in_seed);
  EXPECT_EQ(Store(1).ThreadMessages(seed->thread_id)->size(), 1u + in_seed);
}

// Two hosts start the same thread at the same time with different messages (the thread is
// new to both: PostgreSQL's one-statement path for new threads must not lose either message).
TEST_P(store_backend_suite, ConcurrentFirstMessagesOfOneThreadLoseNothing) {
  constexpr int kThreads = 20;
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  OnBothHosts([&](int host, ThreadStore& store) {
    ++ready;
    while (ready.load() < 2) std::this_thread::yield();
    for (int i = 0; i < kThreads; ++i) {
      const std::string id = "first-" + std::to_string(host) + "-" + std::to_string(i) + "@x";
      auto got = store.RecordMessage(Msg(id, "TNEW" + std::to_string(i), 10 + host),
                                     "ROOT-" + std::to_string(i) + "-" + std::to_string(host));
      if (!got.ok()) {
        ++failures;
        ADD_FAILURE() << id << ": " << got.error().message;
      }
    }
  });
  ASSERT_EQ(failures.load(), 0);
  for (int i = 0; i < kThreads; ++i) {
    const std::string thread_id = "TNEW" + std::to_string(i);
    auto thread = Store().FindThread(thread_id);
    ASSERT_TRUE(thread.ok() && thread->has_value()) << thread_id;
    EXPECT_EQ((*thread)->message_count, 2u) << thread_id;
    EXPECT_EQ((*thread)->recent_msgids.size(), 2u) << thread_id;
    EXPECT_EQ((*thread)->thread_index_roots.size(), 2u) << thread_id;
    EXPECT_EQ(Store(1).ThreadMessages(thread_id)->size(), 2u) << thread_id;
    for (int host = 0; host < 2; ++host) {
      const std::string root = "ROOT-" + std::to_string(i) + "-" + std::to_string(host);
      EXPECT_EQ(*Store().FindThreadByIndex(root), std::optional<std::string>(thread_id));
    }
  }
}

TEST_P(store_backend_suite, LedgerOncePerMessageAndRecipient) {
  reply::ReplyLedger mx1 = Ledger(0), mx2 = Ledger(1);
  reply::ClaimLimits limits{"alice@example.org", "T1", 0, 0};
  auto first = mx1.Claim("m1@x", "help@example.com", limits, Proposed("r1@x", 100, "body"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  // Pending on mx1: mx2's retry gets the same stored message back.
  auto again = mx2.Claim("m1@x", "HELP@example.com", limits, Proposed("r2@x", 101, "other"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reply_id, "r1@x");
  EXPECT_EQ(again->message, "body");
  auto owed = mx2.ListOwed(10);
  ASSERT_TRUE(owed.ok()) << owed.error().message;
  ASSERT_EQ(owed->size(), 1u);
  EXPECT_EQ((*owed)[0].ref.key, std::string("m1@x\0help@example.com", 21));
  ASSERT_TRUE(mx2.MarkSent("m1@x", "help@example.com").ok());
  auto third = mx1.Claim("m1@x", "help@example.com", limits, Proposed("r3@x", 102));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().message, "already-replied");
  EXPECT_EQ(*mx1.Check("m1@x", "help@example.com", limits, "h", 103), "already-replied");
  EXPECT_EQ(*mx1.Check("m1@x", "sales@example.com", limits, "h", 103), "");
  EXPECT_TRUE(mx1.ListOwed(10)->empty());
  auto found = mx2.Find("m1@x", "help@example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->state, "sent");
  EXPECT_EQ((*found)->reply_id, "r1@x");
  Status gone = mx1.Update(reply::ReplyLedger::ReplyRef("m9@x", "a@x"), Proposed("r", 1));
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_P(store_backend_suite, LedgerRatesAndSendsAreShared) {
  reply::ReplyLedger mx1 = Ledger(0), mx2 = Ledger(1);
  reply::ClaimLimits vacation{"Bob+tag@Example.org", "", 3600, 0};
  ASSERT_TRUE(mx1.Claim("v1@x", "me@x", vacation, Proposed("r1@x", 1000)).ok());
  auto second = mx2.Claim("v2@x", "me@x", vacation, Proposed("r2@x", 2000));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, "rate-sender");
  EXPECT_TRUE(mx2.Claim("v3@x", "me@x", vacation, Proposed("r3@x", 5000)).ok());
  auto send = mx1.ClaimSend("job1", 0, Proposed("T1", 100, "m"), 1);
  ASSERT_TRUE(send.ok());
  auto same = mx2.ClaimSend("job1", 0, Proposed("T1", 101, "m"), 1);  // no new token needed
  ASSERT_TRUE(same.ok());
  auto other = mx2.ClaimSend("job2", 0, Proposed("T1", 102, "m"), 1);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "send-rate");
  ASSERT_TRUE(mx2.MarkSendDone("job1", 0).ok());
  ASSERT_TRUE(mx1.MarkSent("v3@x", "me@x").ok());
  ASSERT_TRUE(mx1.MarkSent("v1@x", "me@x").ok());
  auto removed = mx2.Sweep(3000);  // v1's once entry; v3 (5000) and the rate entry stay
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 2u);  // once v1@x, send job1 (time 100)
  EXPECT_FALSE(mx1.Find("v1@x", "me@x")->has_value());
  EXPECT_TRUE(mx1.Find("v3@x", "me@x")->has_value());
}

// The promise of issue 13: when two hosts (and several workers) race to answer the same
// inbound message for the same recipient, exactly one claim wins.
TEST_P(store_backend_suite, LedgerRaceExactlyOneClaimWins) {
  constexpr int kMessages = 10;
  constexpr int kRacers = 4;  // two per host
  reply::ClaimLimits limits{"alice@example.org", "", 0, 0};
  for (int m = 0; m < kMessages; ++m) {
    const std::string msgid = "race" + std::to_string(m) + "@x";
    std::atomic<int> won{0}, refused{0}, failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> racers;
    for (int r = 0; r < kRacers; ++r) {
      racers.emplace_back([&, r] {
        reply::ReplyLedger ledger = Ledger(r % 2);
        while (!go.load()) std::this_thread::yield();
        // No stored message: an earlier claim is not resumable, so losers are refused.
        auto got = ledger.Claim(msgid, "help@example.com", limits,
                                Proposed("r" + std::to_string(r) + "@x", 100));
        if (got.ok()) {
          ++won;
        } else if (got.error().code == ErrorCode::kRefused &&
                   got.error().message == "already-replied") {
          ++refused;
        } else {
          ++failed;
          ADD_FAILURE() << got.error().message;
        }
      });
    }
    go = true;
    for (auto& t : racers) t.join();
    EXPECT_EQ(won.load(), 1) << msgid;
    EXPECT_EQ(refused.load(), kRacers - 1) << msgid;
    EXPECT_EQ(failed.load(), 0);
  }
}

// PostgreSQL only: what the milter path costs in round trips to the database (issue 13:
// "few round trips"), so that it cannot grow unnoticed. The calls are the milter's
// (thread::Resolve, then ThreadStore::RecordMessage as filter/processor.cc does).
TEST(store_pg_round_trips, MilterPathCosts) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  auto pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool));
  auto cost = [&](const std::function<void()>& fn) {
    const uint64_t before = (*pool)->round_trips();
    fn();
    return (*pool)->round_trips() - before;
  };
  // A new message (outbound, or inbound matching nothing): nothing to look up, then recorded
  // with its new thread in one statement. The first time on a connection includes preparing
  // the statement (same round trip).
  std::string thread_id;
  EXPECT_EQ(cost([&] {
              thread::ThreadHeaders h;
              h.message_id = "new@x";
              auto r = thread::Resolve(store, h, false, nullptr);
              ASSERT_TRUE(r.ok());
              MessageRecord rec = Msg("new@x", r->thread_id, 100);
              auto stored = store.RecordMessage(rec, "ROOT-NEW");
              ASSERT_TRUE(stored.ok()) << stored.error().message;
              thread_id = stored->thread_id;
            }),
            1u);
  EXPECT_EQ(cost([&] { ASSERT_TRUE(store.RecordMessage(Msg("new2@x", "", 101)).ok()); }), 1u);
  // A reply to a known message: one lookup (In-Reply-To, which reads the thread along), then
  // recorded in that thread with a compare-and-swap of the thread record.
  EXPECT_EQ(cost([&] {
              thread::ThreadHeaders h;
              h.message_id = "reply@x";
              h.in_reply_to = {"new@x"};
              auto r = thread::Resolve(store, h, false, nullptr);
              ASSERT_TRUE(r.ok());
              ASSERT_EQ(r->thread_id, thread_id);
              MessageRecord rec = Msg("reply@x", r->thread_id, 200);
              rec.direction = Direction::kInbound;
              rec.parent = "new@x";
              // The milter routes by the thread's owner: handed back by the record itself.
              std::optional<ThreadRecord> after;
              ASSERT_TRUE(store.RecordMessage(rec, {}, &after).ok());
              ASSERT_TRUE(after.has_value());
              EXPECT_EQ(after->message_count, 2u);
            }),
            2u);
  // The same message again (MTA retry, another recipient): 1, and nothing changes.
  EXPECT_EQ(cost([&] { ASSERT_TRUE(store.RecordMessage(Msg("new@x", "", 300)).ok()); }), 1u);
  // Into a thread that exists without a match or parent (a handler's host->send in a known
  // thread): the one-statement attempt finds the thread, then the locking path: 3.
  EXPECT_EQ(cost([&] { ASSERT_TRUE(store.RecordMessage(Msg("send@x", thread_id, 400)).ok()); }),
            3u);
  EXPECT_EQ((*store.FindThread(thread_id))->message_count, 3u);
  // Another host changes the thread between this host's lookup and its record: the swap
  // fails (1), the locking path records it (2), nothing is lost.
  auto other_pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(other_pool.ok()) << other_pool.error().message;
  ThreadStore other(std::make_shared<pg::PgThreadBackend>(*other_pool));
  ASSERT_TRUE(store.FindMessage("reply@x")->has_value());
  MessageRecord elsewhere = Msg("elsewhere@x", thread_id, 500);
  elsewhere.parent = "new@x";
  ASSERT_TRUE(other.RecordMessage(elsewhere).ok());
  EXPECT_EQ(cost([&] {
              MessageRecord late = Msg("late@x", thread_id, 600);
              late.parent = "reply@x";
              ASSERT_TRUE(store.RecordMessage(late).ok());
            }),
            3u);
  auto final_thread = other.FindThread(thread_id);
  ASSERT_TRUE(final_thread.ok() && final_thread->has_value());
  EXPECT_EQ((*final_thread)->message_count, 5u);
  EXPECT_EQ((*final_thread)->recent_msgids.back(), "late@x");
  EXPECT_EQ(other.ThreadMessages(thread_id)->size(), 5u);
  EXPECT_EQ((*store.FindThread(thread_id))->thread_index_roots,
            (std::vector<std::string>{"ROOT-NEW"}));
}

// A reply to a message this process stored minutes ago (one host, or the host the question
// left through): the lookup is answered from memory (pg_recent_messages.h), so the reply costs
// its compare-and-swap only. Everything else stays as it was: another host reads the same
// record from the database, a thread another host changed meanwhile is recorded by the locking
// path, and without a retention that allows it (retention_days = 0) every lookup asks.
TEST(store_pg_round_trips, ReplyToOwnRecentMessageCostsOne) {
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(Cluster(), &dsn);
  if (dsn.empty()) return;  // skipped or failed
  constexpr int64_t kRetention = 180 * 86400;
  auto pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool, kRetention));
  auto cost = [&](const std::function<void()>& fn) {
    const uint64_t before = (*pool)->round_trips();
    fn();
    return (*pool)->round_trips() - before;
  };
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  // As the milter does it: resolve the headers, record the message in the thread resolved.
  auto receive = [&](ThreadStore& on, const std::string& msgid, const std::string& parent) {
    thread::ThreadHeaders h;
    h.message_id = msgid;
    if (!parent.empty()) h.in_reply_to = {parent};
    auto r = thread::Resolve(on, h, false, nullptr);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return std::string();
    MessageRecord rec = Msg(msgid, r->thread_id, now);
    if (!parent.empty()) {
      EXPECT_EQ(r->method, thread::MatchMethod::kInReplyTo);
      rec.direction = Direction::kInbound;
      rec.parent = parent;
      rec.match = "in-reply-to";
    }
    auto stored = on.RecordMessage(rec);
    EXPECT_TRUE(stored.ok()) << stored.error().message;
    return r->thread_id;
  };
  const std::string thread_id = receive(store, "question@x", "");
  std::string matched;
  EXPECT_EQ(cost([&] { matched = receive(store, "answer@x", "question@x"); }), 1u);
  EXPECT_EQ(matched, thread_id);
  // Another host (its own pool and memory) asks the database, and reads the same record.
  auto other_pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(other_pool.ok()) << other_pool.error().message;
  ThreadStore other(std::make_shared<pg::PgThreadBackend>(*other_pool, kRetention));
  auto theirs = other.FindMessage("question@x");
  auto mine = store.FindMessage("question@x");
  ASSERT_TRUE(theirs.ok() && mine.ok() && theirs->has_value() && mine->has_value());
  EXPECT_EQ(**theirs, **mine);
  // That host answers into the thread too; this host's next answer finds the thread changed:
  // the swap fails (1), the locking path records it (2). Nothing is lost.
  EXPECT_EQ(receive(other, "elsewhere@x", "question@x"), thread_id);
  EXPECT_EQ(cost([&] { matched = receive(store, "answer2@x", "answer@x"); }), 3u);
  EXPECT_EQ(matched, thread_id);
  auto thread = other.FindThread(thread_id);
  ASSERT_TRUE(thread.ok() && thread->has_value());
  EXPECT_EQ((*thread)->message_count, 4u);
  EXPECT_EQ(other.ThreadMessages(thread_id)->size(), 4u);
  // This process's sweep forgets what it remembered: the lookup asks again.
  ASSERT_TRUE(store.Sweep(now - kRetention).ok());
  EXPECT_EQ(cost([&] { ASSERT_TRUE(store.FindMessage("question@x")->has_value()); }), 1u);
  // retention_days = 0 (sweep everything at once): never from memory.
  ThreadStore no_retention(std::make_shared<pg::PgThreadBackend>(*pool, 0));
  receive(no_retention, "q0@x", "");
  EXPECT_EQ(cost([&] { receive(no_retention, "a0@x", "q0@x"); }), 2u);
}

// Two MX hosts with their own host ids (ledger.h, SEVERAL HOSTS): a fresh claim of one host
// is refused "other-host" to the other, resumed by its own host (crash recovery), taken over
// once its lease ran out; the slow former owner can no longer overwrite it.
TEST_P(store_backend_suite, LedgerForeignClaimIsRefusedWhileFreshAndTakenOverWhenStale) {
  constexpr int64_t kLease = 300;
  reply::ReplyLedger mx1(LedgerOf(0), {"mx1", kLease}), mx2(LedgerOf(1), {"mx2", kLease});
  reply::ClaimLimits limits{"alice@example.org", "", 0, 0};
  const std::string rcpt = "help@example.com";
  auto first = mx1.Claim("m@x", rcpt, limits, Proposed("r1@x", 1000, "body"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->owner, "mx1");
  EXPECT_EQ(first->claimed, 1000);

  auto other = mx2.Claim("m@x", rcpt, limits, Proposed("r2@x", 1100, "other"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kRefused);
  EXPECT_EQ(other.error().message, "other-host");
  EXPECT_EQ(*mx2.Check("m@x", rcpt, limits, "h", 1100), "other-host");
  EXPECT_EQ(*mx1.Check("m@x", rcpt, limits, "h", 1100), "");

  // Same host: crash recovery resumes the very message and renews the claim.
  auto own = mx1.Claim("m@x", rcpt, limits, Proposed("r3@x", 1100, "third"));
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(own->reply_id, "r1@x");
  EXPECT_EQ(own->message, "body");
  EXPECT_EQ(own->claimed, 1100);
  EXPECT_EQ(mx2.Claim("m@x", rcpt, limits, Proposed("r2@x", 1100 + kLease - 1)).error().message,
            "other-host");

  // Stale: mx1 went away. mx2 takes the same message over.
  auto taken = mx2.Claim("m@x", rcpt, limits, Proposed("r2@x", 1100 + kLease, "other"));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken->reply_id, "r1@x");
  EXPECT_EQ(taken->message, "body");
  EXPECT_EQ(taken->owner, "mx2");
  // The former owner's late state change is refused, and so is its retry.
  reply::LedgerEntry late = *own;
  late.state = "reinjecting";
  Status overwritten = mx1.Update(reply::ReplyLedger::ReplyRef("m@x", rcpt), late);
  ASSERT_FALSE(overwritten.ok());
  EXPECT_EQ(overwritten.error().message, "other-host");
  EXPECT_EQ(mx1.Claim("m@x", rcpt, limits, Proposed("r4@x", 1500)).error().message, "other-host");

  // A reinjection renews the lease; a stale one taken over drops the other host's pid and
  // gate marker (a process and a file of that host: replier.h never trusts them here).
  reply::LedgerEntry reinjecting = *taken;
  reinjecting.state = "reinjecting";
  reinjecting.sendmail_pid = 1234;
  reinjecting.sendmail_start = 99;
  reinjecting.gate_marker = "gate-0123456789abcdef0123456789abcdef";
  reinjecting.reinject_time = 1600;
  ASSERT_TRUE(mx2.Update(reply::ReplyLedger::ReplyRef("m@x", rcpt), reinjecting).ok());
  auto own_again = mx2.Claim("m@x", rcpt, limits, Proposed("r5@x", 1600));
  ASSERT_TRUE(own_again.ok()) << own_again.error().message;
  EXPECT_EQ(own_again->gate_marker, reinjecting.gate_marker);  // its own host keeps both
  EXPECT_EQ(own_again->sendmail_pid, 1234);
  EXPECT_EQ(mx1.Claim("m@x", rcpt, limits, Proposed("r5@x", 1600 + kLease - 1)).error().message,
            "other-host");
  auto settled = mx1.Claim("m@x", rcpt, limits, Proposed("r5@x", 1600 + kLease));
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  EXPECT_EQ(settled->state, "reinjecting");
  EXPECT_EQ(settled->sendmail_pid, 0);
  EXPECT_EQ(settled->gate_marker, "");
  EXPECT_EQ(settled->owner, "mx1");
  ASSERT_TRUE(mx1.MarkSent("m@x", rcpt).ok());
  EXPECT_EQ(mx2.Claim("m@x", rcpt, limits, Proposed("r6@x", 3000)).error().message,
            "already-replied");

  // An entry written without an owner (the previous version) is resumed as before, and then
  // belongs to the host that resumed it.
  reply::ReplyLedger legacy(LedgerOf(0));
  auto old = legacy.Claim("old@x", rcpt, limits, Proposed("o1@x", 1000, "old body"));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->owner, "");
  auto resumed = mx2.Claim("old@x", rcpt, limits, Proposed("o2@x", 1001, "new"));
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(resumed->reply_id, "o1@x");
  EXPECT_EQ(resumed->owner, "mx2");
  EXPECT_EQ(mx1.Claim("old@x", rcpt, limits, Proposed("o3@x", 1002)).error().message, "other-host");
}

// The same message delivered to two hosts at the same instant (two racers per host): only
// one host gets the reply to send; every claim of the other host is refused "other-host".
TEST_P(store_backend_suite, LedgerCrossHostRaceOneHostAnswers) {
  constexpr int kMessages = 10;
  constexpr int kRacers = 4;
  reply::ClaimLimits limits{"alice@example.org", "", 0, 0};
  for (int m = 0; m < kMessages; ++m) {
    const std::string msgid = "xrace" + std::to_string(m) + "@x";
    std::atomic<int> host_won[2] = {0, 0};
    std::atomic<int> refused{0}, failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> racers;
    for (int r = 0; r < kRacers; ++r) {
      racers.emplace_back([&, r] {
        int host = r % 2;
        reply::ReplyLedger ledger(LedgerOf(host), {"mx" + std::to_string(host + 1), 600});
        while (!go.load()) std::this_thread::yield();
        auto got = ledger.Claim(msgid, "help@example.com", limits,
                                Proposed("r" + std::to_string(r) + "@x", 100, "body"));
        if (got.ok()) {
          ++host_won[host];
        } else if (got.error().message == "other-host") {
          ++refused;
        } else {
          ++failed;
          ADD_FAILURE() << got.error().message;
        }
      });
    }
    go = true;
    for (auto& t : racers) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_TRUE(host_won[0].load() == 0 || host_won[1].load() == 0) << msgid;
    EXPECT_EQ(host_won[0].load() + host_won[1].load(), kRacers / 2) << msgid;
    EXPECT_EQ(refused.load(), kRacers / 2) << msgid;
  }
}

// PostgreSQL only: a query as the first statement of a transaction travels with its BEGIN
// (pg_conn.h round trips) and still returns its own rows, not BEGIN's empty result; an error
// in it fails the transaction.
TEST(store_pg_conn, FirstStatementOfATransactionReturnsItsRows) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  auto conn = pg::PgConn::Connect(dsn, pg::Timeouts{});
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  std::string got;
  Status st = (*conn)->Transact(pg::TxnMode::kReadOnly, [&]() -> Status {
    auto rows = (*conn)->Simple("SELECT 'forty-two'");
    if (!rows.ok()) return rows.error();
    if (rows->size() != 1) return MakeError(ErrorCode::kInternal, "no row");
    got = std::string(rows->Bytes(0, 0));
    return {};
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(got, "forty-two");
  Status bad = (*conn)->Transact(pg::TxnMode::kReadOnly, [&]() -> Status {
    auto rows = (*conn)->Simple("SELECT * FROM tm_no_such_table");
    if (!rows.ok()) return rows.error();
    return {};
  });
  EXPECT_FALSE(bad.ok());
}

// PostgreSQL only: migrations are recorded, re-running them changes nothing, and a database
// migrated by a newer threadmill is refused.
TEST(store_pg_schema, VersionedMigrations) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  ASSERT_TRUE(pg::PgPool::Open(dsn).ok());
  auto pool = pg::PgPool::Open(dsn);  // second start: nothing to do
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  auto conn = (*pool)->Acquire();
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(*pg::SchemaVersion(**conn), pg::kPgSchemaVersion);
  ASSERT_TRUE((*conn)->Simple("INSERT INTO tm_schema_version (version) VALUES (99)").ok());
  auto newer = pg::PgPool::Open(dsn);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.error().message.find("schema version 99, newer"), std::string::npos)
      << newer.error().message;
  // The replied-once guarantee is a constraint of the database itself, not only of the
  // transactions threadmill runs: a second row for the same (Message-ID, recipient) fails.
  ASSERT_TRUE((*conn)->Simple("DELETE FROM tm_schema_version WHERE version = 99").ok());
  const std::string insert =
      "INSERT INTO tm_replied_once (message_id, recipient, entry) "
      "VALUES ('m@x'::bytea, 'help@example.com'::bytea, ''::bytea)";
  ASSERT_TRUE((*conn)->Simple(insert).ok());
  auto twice = (*conn)->Simple(insert);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ((*conn)->last_sqlstate(), "23505") << twice.error().message;
  auto unreachable = pg::PgPool::Open("host=127.0.0.1 port=1 user=tm connect_timeout=2");
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().code, ErrorCode::kTemporary);
}

// PostgreSQL only: the daemon can run as a least-privilege role (README "Several MX hosts":
// DML grants only, no CREATE). Before the schema owner migrated, such a role gets an error
// naming `threadmillctl db migrate`; after it, the role records threads and claims replies,
// and opening its pool runs no DDL.
TEST(store_pg_schema, LeastPrivilegeRoleRunsAfterTheOwnerMigrated) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string owner_dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &owner_dsn);
  if (owner_dsn.empty()) return;  // skipped or failed
  const size_t at = owner_dsn.find("dbname=") + 7;
  const std::string dbname = owner_dsn.substr(at, owner_dsn.find(' ', at) - at);
  const std::string role = "tm_app_" + dbname;
  auto owner = pg::PgConn::Connect(owner_dsn, pg::Timeouts{});
  ASSERT_TRUE(owner.ok()) << owner.error().message;
  // The recipe of the README, with trust authentication instead of a password.
  for (const std::string& sql : std::vector<std::string>{
           "CREATE ROLE " + role + " LOGIN",
           std::string("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
           "GRANT CONNECT ON DATABASE " + dbname + " TO " + role,
           "GRANT USAGE ON SCHEMA public TO " + role,
           "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON "
           "TABLES TO " + role,
           "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO " + role,
       }) {
    ASSERT_TRUE((*owner)->Simple(sql).ok()) << sql;
  }
  std::string app_dsn = owner_dsn;
  app_dsn.replace(app_dsn.find("user=tm"), 7, "user=" + role);

  auto early = pg::PgPool::Open(app_dsn);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("threadmillctl db migrate"), std::string::npos)
      << early.error().message;

  ASSERT_TRUE(pg::PgPool::Open(owner_dsn).ok());  // the owner migrates
  auto pool = pg::PgPool::Open(app_dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool));
  auto stored = store.RecordMessage(Msg("least@x", "", 100));
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  reply::ReplyLedger ledger(std::make_shared<pg::PgLedgerBackend>(*pool));
  auto claimed = ledger.Claim("least@x", "alice@example.org", {}, Proposed("<r@x>", 100));
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  auto conn = (*pool)->Acquire();
  ASSERT_TRUE(conn.ok());
  EXPECT_FALSE((*conn)->Simple("CREATE TABLE tm_not_allowed (a int)").ok());
}

// PostgreSQL only: with the server stopped a call fails at once with kTemporary (the milter
// then degrades, it does not hang); once the server is back, the pool reconnects by itself.
TEST(store_pg_faults, ServerRestartIsTemporary) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  auto pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool));
  auto stored = store.RecordMessage(Msg("before@x", "", 100));
  ASSERT_TRUE(stored.ok());
  cluster->StopServer();
  auto down = store.FindMessage("before@x");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kTemporary) << down.error().message;
  auto still_down = store.RecordMessage(Msg("during@x", "", 200));
  ASSERT_FALSE(still_down.ok());
  EXPECT_EQ(still_down.error().code, ErrorCode::kTemporary) << still_down.error().message;
  ASSERT_TRUE(cluster->StartAgain()) << cluster->error();
  // The pool tries to connect again retry_after_ms after the last failure.
  auto back = store.FindMessage("before@x");
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       !back.ok() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = store.FindMessage("before@x");
  }
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->thread_id, stored->thread_id);
  EXPECT_TRUE(store.RecordMessage(Msg("after@x", stored->thread_id, 300)).ok());
}

// PostgreSQL only: pooled connections left idle across a database restart (or a fail-over
// to a promoted standby) are found lost by their first statement and reconnect at once: the
// first calls after the restart succeed, for reads and for transactions alike.
TEST(store_pg_faults, IdleConnectionsReconnectAfterARestart) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  auto pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool));
  reply::ReplyLedger ledger(std::make_shared<pg::PgLedgerBackend>(*pool));
  auto stored = store.RecordMessage(Msg("idle@x", "", 100));
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(ledger.Claim("idle@x", "alice@example.org", {}, Proposed("<r1@x>", 100)).ok());
  cluster->StopServer();
  ASSERT_TRUE(cluster->StartAgain()) << cluster->error();
  auto found = store.FindMessage("idle@x");
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  auto claimed = ledger.Claim("idle2@x", "alice@example.org", {}, Proposed("<r2@x>", 101));
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_TRUE(store.RecordMessage(Msg("idle3@x", stored->thread_id, 102)).ok());
}

// PostgreSQL only: a row locked by another host's open transaction holds a write for at most
// statement_timeout_ms; then the call fails with kTemporary instead of hanging.
TEST(store_pg_faults, StatementTimeoutBoundsAWaitOnALock) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  pg::PgPool::Options options;
  options.max_idle = 2;
  options.timeouts.statement_ms = 300;
  auto pool = pg::PgPool::Open(dsn, options);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool));
  auto stored = store.RecordMessage(Msg("locked@x", "", 100));
  ASSERT_TRUE(stored.ok());
  auto other_host = pg::PgConn::Connect(dsn, pg::Timeouts{2000, 0});
  ASSERT_TRUE(other_host.ok()) << other_host.error().message;
  ASSERT_TRUE((*other_host)->Simple("BEGIN").ok());
  ASSERT_TRUE((*other_host)
                  ->Simple("SELECT * FROM tm_thread WHERE thread_id = '" + stored->thread_id +
                           "' FOR UPDATE")
                  .ok());
  const auto start = std::chrono::steady_clock::now();
  Status owner = store.SetThreadOwner(stored->thread_id, "sales");
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(owner.ok());
  EXPECT_EQ(owner.error().code, ErrorCode::kTemporary) << owner.error().message;
  EXPECT_LT(waited, std::chrono::seconds(5));
  ASSERT_TRUE((*other_host)->Simple("ROLLBACK").ok());
  EXPECT_TRUE(store.SetThreadOwner(stored->thread_id, "sales").ok());
}

// The milter's wait bound ([store] connect_timeout_ms, statement_timeout_ms): through the
// daemon's lazily connecting backends, a server that accepts TCP and never answers fails the
// first call within the connect time-out, and the calls that follow at once (the pool waits
// retry_after_ms before it connects again). Bounds are asserted with 3 s to spare for a busy
// machine.
TEST(store_pg_faults, ServerThatNeverAnswersFailsWithinTheConnectBound) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener.get(), 16), 0);  // never accepted: the kernel completes the handshake
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string dsn =
      "host=127.0.0.1 port=" + std::to_string(ntohs(addr.sin_port)) + " user=tm dbname=tm";
  pg::PgPool::Options options;
  options.timeouts.connect_ms = 1000;
  options.timeouts.statement_ms = 1000;
  pg::ProcessBackends backends = pg::MakeProcessBackends(dsn, "mx1", options);
  ThreadStore store(backends.threads);
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto first = store.FindMessage("m@x");
  auto waited = Clock::now() - start;
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kTemporary) << first.error().message;
  EXPECT_GE(waited, std::chrono::milliseconds(900)) << first.error().message;
  EXPECT_LT(waited, std::chrono::milliseconds(1000 + 3000));
  BackendStats down = backends.stats();
  EXPECT_FALSE(down.up);
  EXPECT_EQ(down.ops["find_message"].errors, 1u);
  EXPECT_EQ(down.connect_failures, 1u);
  start = Clock::now();
  auto second = store.RecordMessage(Msg("m@x", "", 100));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kTemporary);
  EXPECT_NE(second.error().message.find("unavailable"), std::string::npos)
      << second.error().message;
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
  // PgPool::Open directly (threadmillctl, tests): the same bound.
  start = Clock::now();
  auto pool = pg::PgPool::Open(dsn, options);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.error().code, ErrorCode::kTemporary);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000 + 3000));
}

// A server that stops answering in the middle (its backend process stopped: SIGSTOP, as a
// hung host or a black-holed route looks): the call fails within statement_timeout_ms +
// grace, the connection is abandoned, the next calls fail at once, and once the server
// answers again the pool reconnects by itself. A stopped cluster fails a call at once.
TEST(store_pg_faults, ServerThatStopsAnsweringFailsWithinTheStatementBound) {
  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  pg::PgPool::Options options;
  options.max_idle = 1;
  options.timeouts.connect_ms = 1000;
  options.timeouts.statement_ms = 500;
  auto pool = pg::PgPool::Open(dsn, options);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  ThreadStore store(std::make_shared<pg::PgThreadBackend>(*pool));
  ASSERT_TRUE(store.RecordMessage(Msg("hung@x", "", 100)).ok());
  pid_t backend = 0;
  {
    auto lease = (*pool)->Acquire();  // the one idle connection the store used
    ASSERT_TRUE(lease.ok());
    auto pid = (*lease)->Simple("SELECT pg_backend_pid()");
    ASSERT_TRUE(pid.ok()) << pid.error().message;
    backend = static_cast<pid_t>(std::stol(std::string(pid->Bytes(0, 0))));
  }
  ASSERT_GT(backend, 0);
  ASSERT_EQ(kill(backend, SIGSTOP), 0) << strerror(errno);
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto hung = store.FindMessage("hung@x");
  auto waited = Clock::now() - start;
  kill(backend, SIGCONT);
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.error().code, ErrorCode::kTemporary) << hung.error().message;
  EXPECT_LT(waited, std::chrono::milliseconds(500 + pg::StatementGraceMs(500) + 3000));
  EXPECT_EQ((*pool)->stats().timeouts, 1u);
  start = Clock::now();
  auto next = store.FindMessage("hung@x");
  ASSERT_FALSE(next.ok());
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
  auto back = store.FindMessage("hung@x");
  for (auto until = Clock::now() + std::chrono::seconds(30); !back.ok() && Clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = store.FindMessage("hung@x");
  }
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back->has_value());

  cluster->StopServer();
  start = Clock::now();
  auto stopped = ThreadStore(pg::MakeProcessBackends(dsn, "mx1", options).threads).FindMessage("hung@x");
  waited = Clock::now() - start;
  ASSERT_TRUE(cluster->StartAgain()) << cluster->error();
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, ErrorCode::kTemporary);
  EXPECT_LT(waited, std::chrono::milliseconds(1000 + 3000));
}

}  // namespace
}  // namespace threadmill::store

namespace threadmill::store {
namespace {

// store::OpenStore (open_store.h), the daemon's factory: lmdb attaches nothing; postgresql
// attaches lazily connecting backends that ThreadStore(env) and ReplyLedger(env) use. A child
// forked after the parent used them opens its own connections (no libpq connection is shared
// across fork) and the parent's keep working afterwards.
TEST(store_open, PostgresqlBackendsAreSharedAndForkSafe) {
  testing::TempDir lmdb_dir;
  EnvOptions lmdb;
  lmdb.path = lmdb_dir.path() + "/lmdb";
  auto plain = OpenStore(lmdb);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE((*plain)->shared_backends().threads);
  EXPECT_FALSE((*plain)->shared_backends().ledger);
  EnvOptions bad = lmdb;
  bad.backend = "redis";
  EXPECT_EQ(OpenStore(bad).error().code, ErrorCode::kInvalidInput);

  threadmill::testing::PgCluster* cluster = Cluster();
  std::string dsn;
  threadmill::testing::NewDatabaseOrSkip(cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  testing::TempDir dir;
  EnvOptions options;
  options.path = dir.path() + "/lmdb";
  options.backend = "postgresql";
  options.dsn = dsn;
  auto env = OpenStore(options);
  ASSERT_TRUE(env.ok()) << env.error().message;
  ASSERT_TRUE((*env)->shared_backends().threads);
  ThreadStore threads(*env);
  auto parent = threads.RecordMessage(Msg("parent@x", "", 100));
  ASSERT_TRUE(parent.ok()) << parent.error().message;
  // Not in the LMDB environment: in PostgreSQL (a plain pool on the same database sees it).
  auto pool = pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  auto seen = ThreadStore(std::make_shared<pg::PgThreadBackend>(*pool)).FindMessage("parent@x");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_FALSE(LmdbThreadBackend(*env).FindMessage("parent@x")->has_value());
  // What this process's calls did (/metrics, runtime/store_metrics.h).
  ASSERT_TRUE((*env)->shared_backends().stats);
  BackendStats stats = (*env)->shared_backends().stats();
  EXPECT_EQ(stats.backend, "postgresql");
  EXPECT_TRUE(stats.up);
  EXPECT_GE(stats.ops["record_message"].calls, 1u);
  EXPECT_EQ(stats.ops["record_message"].errors, 0u);
  EXPECT_GT(stats.ops["record_message"].seconds, 0.0);
  EXPECT_GE(stats.connects, 1u);
  EXPECT_GE(stats.idle_connections, 1u);
  EXPECT_FALSE((*plain)->shared_backends().stats);

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ThreadStore in_child(*env);
    auto found = in_child.FindMessage("parent@x");
    if (!found.ok() || !found->has_value()) _exit(2);
    if (!in_child.RecordMessage(Msg("child@x", (*found)->thread_id, 200)).ok()) _exit(3);
    reply::ReplyLedger ledger(*env);
    if (!ledger.Claim("m@x", "help@example.com", {}, Proposed("r@x", 100, "body")).ok()) _exit(4);
    if (!ledger.MarkSent("m@x", "help@example.com").ok()) _exit(5);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto from_child = threads.FindMessage("child@x");
  ASSERT_TRUE(from_child.ok()) << from_child.error().message;
  ASSERT_TRUE(from_child->has_value());
  EXPECT_EQ((*from_child)->thread_id, parent->thread_id);
  auto again =
      reply::ReplyLedger(*env).Claim("m@x", "help@example.com", {}, Proposed("r2@x", 101, "other"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "already-replied");
}

}  // namespace
}  // namespace threadmill::store
