// thread_store_test.cc - recording, lookup, thread continuity, ordering, sweep, long ids,
// concurrency.
#include "store/thread_store.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "temp_env.h"

namespace threadmill::store {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

MessageRecord Msg(std::string msgid, std::string thread_id, int64_t time,
                  std::string from = "a@example.org", std::vector<std::string> to = {}) {
  MessageRecord rec;
  rec.msgid = std::move(msgid);
  rec.thread_id = std::move(thread_id);
  rec.direction = Direction::kOutbound;
  rec.time = time;
  rec.from = std::move(from);
  rec.to = std::move(to);
  rec.subject = "subject of " + rec.msgid.substr(0, 20);
  rec.queue_id = "Q" + std::to_string(time);
  return rec;
}

class store_thread_store : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = OpenOrDie(dir_.path());
    ASSERT_TRUE(env_);
    store_ = std::make_unique<ThreadStore>(env_);
  }

  MessageRecord Record(const MessageRecord& rec, std::string_view root = {}) {
    auto got = store_->RecordMessage(rec, root);
    EXPECT_TRUE(got.ok()) << got.error().message;
    return got.ok() ? *got : MessageRecord{};
  }
  std::optional<ThreadRecord> Thread(const std::string& id) {
    auto got = store_->FindThread(id);
    EXPECT_TRUE(got.ok()) << got.error().message;
    return got.ok() ? *got : std::nullopt;
  }
  std::vector<std::string> MessageIds(const std::string& thread, size_t limit = 1000) {
    auto got = store_->ThreadMessages(thread, limit);
    EXPECT_TRUE(got.ok()) << got.error().message;
    std::vector<std::string> ids;
    if (got.ok()) {
      for (const MessageRecord& m : *got) ids.push_back(m.msgid);
    }
    return ids;
  }

  TempDir dir_;
  std::shared_ptr<Environment> env_;
  std::unique_ptr<ThreadStore> store_;
};

// A Message-ID column for table-driven cases: short, at LMDB's limit, long, and one that
// starts with the hashed-key mark.
const std::vector<std::string>& MsgidCases() {
  static const std::vector<std::string> cases = {
      "short@example.org",
      std::string(511, 'm') + "@x",
      std::string(2000, 'l') + "@example.org",
      std::string("\x01odd@example.org"),
  };
  return cases;
}

TEST_F(store_thread_store, RecordAndFindRoundTrip) {
  for (const std::string& msgid : MsgidCases()) {
    MessageRecord rec = Msg(msgid, "", 1700000000, "a@example.org", {"b@example.net"});
    rec.owner = "helpdesk";
    rec.parent = "p@x";
    MessageRecord stored = Record(rec);
    EXPECT_EQ(stored.thread_id.size(), 21u);
    rec.thread_id = stored.thread_id;
    EXPECT_EQ(stored, rec);
    auto found = store_->FindMessage(msgid);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_TRUE(found->has_value()) << msgid.size();
    EXPECT_EQ(**found, rec);
    EXPECT_EQ(MessageIds(stored.thread_id), std::vector<std::string>{msgid});
  }
  auto missing = store_->FindMessage(std::string(2000, 'l') + "@example.net");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(store_thread_store, ReRecordingIsIdempotent) {
  MessageRecord first = Record(Msg("dup@x", "", 100, "a@x", {"b@x"}));
  MessageRecord again = Msg("dup@x", "", 200, "other@x", {"c@x", "d@x"});
  again.owner = "someone";
  MessageRecord second = Record(again);
  EXPECT_EQ(second, first);
  auto thread = Thread(first.thread_id);
  ASSERT_TRUE(thread);
  EXPECT_EQ(thread->message_count, 1u);
  EXPECT_EQ(thread->participants, (std::vector<std::string>{"a@x", "b@x"}));
  EXPECT_EQ(thread->owner, "");
  EXPECT_EQ(MessageIds(first.thread_id).size(), 1u);
}

// The outbound echo (reply/replier.h): a reply recorded by threadmill before reinjection has
// no queue id; the milter recording the same Message-ID when the MTA passes it back adds the
// MTA's queue id, and only that. Inbound records and records with a queue id never change.
TEST_F(store_thread_store, OutboundEchoAddsTheQueueIdOnly) {
  for (const std::string& msgid : MsgidCases()) {
    MessageRecord mine = Msg(msgid, "", 100, "help@example.com", {"a@example.org"});
    mine.direction = Direction::kOutbound;
    mine.owner = "helpdesk";
    mine.queue_id.clear();
    MessageRecord stored = Record(mine);
    EXPECT_EQ(stored.queue_id, "");
    MessageRecord echo = Msg(msgid, "", 200, "help@example.com", {"a@example.org"});
    echo.direction = Direction::kOutbound;
    echo.queue_id = "4XyZ1C2";
    MessageRecord after = Record(echo);
    EXPECT_EQ(after.queue_id, "4XyZ1C2");
    EXPECT_EQ(after.owner, "helpdesk");
    EXPECT_EQ(after.time, 100);
    EXPECT_EQ(after.thread_id, stored.thread_id);
    echo.queue_id = "5ABC";  // a second pass (another recipient) keeps the first queue id
    EXPECT_EQ(Record(echo).queue_id, "4XyZ1C2");
    EXPECT_EQ((*store_->FindMessage(msgid))->queue_id, "4XyZ1C2");
    EXPECT_EQ(Thread(stored.thread_id)->message_count, 1u);
  }
  MessageRecord inbound = Msg("in@x", "", 100, "a@x", {"b@x"});
  inbound.direction = Direction::kInbound;
  inbound.queue_id.clear();
  MessageRecord in = Record(inbound);  // inbound: unchanged
  MessageRecord out = Msg("in@x", "", 200, "a@x", {"b@x"});
  out.direction = Direction::kOutbound;
  out.queue_id = "Q1";
  EXPECT_EQ(Record(out), in);
}

TEST_F(store_thread_store, ThreadContinuityAcrossMessages) {
  MessageRecord root = Record(Msg("m1@x", "", 1000, "agent@ours", {"Cust@Theirs"}));
  const std::string tid = root.thread_id;
  MessageRecord reply = Msg("m2@x", tid, 1100, "cust@theirs", {"agent@ours"});
  reply.direction = Direction::kInbound;
  reply.parent = "m1@x";
  reply.owner = "helpdesk";
  Record(reply);
  MessageRecord third = Msg("m3@x", tid, 1050, "agent@ours", {"cust@theirs", "boss@ours"});
  third.owner = "other";
  Record(third);

  auto thread = Thread(tid);
  ASSERT_TRUE(thread);
  EXPECT_EQ(thread->created, 1000);
  EXPECT_EQ(thread->updated, 1100);
  EXPECT_EQ(thread->message_count, 3u);
  EXPECT_EQ(thread->owner, "helpdesk") << "first non-empty owner wins";
  EXPECT_EQ(thread->subject, "subject of m1@x");
  EXPECT_EQ(thread->recent_msgids, (std::vector<std::string>{"m1@x", "m2@x", "m3@x"}));
  EXPECT_EQ(thread->participants,
            (std::vector<std::string>{"agent@ours", "Cust@Theirs", "boss@ours"}));
  auto found = store_->FindMessage("m2@x");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->thread_id, tid);
  EXPECT_EQ((*found)->parent, "m1@x");
}

TEST_F(store_thread_store, RecentAndParticipantsAreCapped) {
  const std::string tid = ThreadStore::NewThreadId();
  for (int i = 0; i < 30; ++i) {
    std::vector<std::string> to;
    for (int j = 0; j < 3; ++j) to.push_back("r" + std::to_string(i * 3 + j) + "@x");
    Record(Msg("cap" + std::to_string(i) + "@x", tid, 100 + i, "s@x", to));
  }
  auto thread = Thread(tid);
  ASSERT_TRUE(thread);
  EXPECT_EQ(thread->message_count, 30u);
  ASSERT_EQ(thread->recent_msgids.size(), kMaxRecentMsgids);
  EXPECT_EQ(thread->recent_msgids.front(), "cap10@x");
  EXPECT_EQ(thread->recent_msgids.back(), "cap29@x");
  ASSERT_EQ(thread->participants.size(), kMaxParticipants);
  EXPECT_EQ(thread->participants.front(), "s@x");
}

TEST_F(store_thread_store, ThreadMessagesAreOrderedByTimeAndLimited) {
  const std::string tid = ThreadStore::NewThreadId();
  const std::vector<std::pair<std::string, int64_t>> inserts = {
      {"c@x", 300}, {"a@x", 100},   {"e@x", 500}, {std::string(900, 'b') + "@x", 200},
      {"d@x", 400}, {"other@x", 50}};
  for (const auto& [id, t] : inserts) {
    Record(Msg(id, id == "other@x" ? std::string() : tid, t));
  }
  const std::vector<std::string> want = {"a@x", std::string(900, 'b') + "@x", "c@x", "d@x", "e@x"};
  EXPECT_EQ(MessageIds(tid), want);
  EXPECT_EQ(MessageIds(tid, 2), std::vector<std::string>(want.begin(), want.begin() + 2));
  EXPECT_TRUE(MessageIds(tid, 0).empty());
  EXPECT_TRUE(MessageIds("Tnothing").empty());
}

TEST_F(store_thread_store, ThreadIndexRootMapsToThreadFirstMappingWins) {
  const std::string root(22, 'R');
  const std::string long_root(700, 'Z');
  MessageRecord a = Record(Msg("ti1@x", "", 10), root);
  MessageRecord b = Record(Msg("ti2@x", "", 20), root);  // another thread, same root
  Record(Msg("ti3@x", a.thread_id, 30), long_root);
  for (const auto& [key, want] : {std::pair{root, a.thread_id}, {long_root, a.thread_id}}) {
    auto got = store_->FindThreadByIndex(key);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, want);
  }
  EXPECT_NE(a.thread_id, b.thread_id);
  auto none = store_->FindThreadByIndex("unknown");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto thread = Thread(a.thread_id);
  ASSERT_TRUE(thread);
  EXPECT_EQ(thread->thread_index_roots, (std::vector<std::string>{root, long_root}));
}

TEST_F(store_thread_store, SetThreadOwner) {
  MessageRecord m = Record(Msg("own@x", "", 10));
  ASSERT_TRUE(store_->SetThreadOwner(m.thread_id, "billing").ok());
  EXPECT_EQ(Thread(m.thread_id)->owner, "billing");
  Status st = store_->SetThreadOwner("Tunknown", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TEST_F(store_thread_store, InvalidInputIsRejected) {
  struct Case {
    MessageRecord rec;
    std::string root;
  };
  const Case cases[] = {
      {Msg("", "", 1), ""},
      {Msg(std::string(kMaxIdBytes + 1, 'x'), "", 1), ""},
      {Msg("ok@x", "bad\nthread", 1), ""},
      {Msg("ok@x", std::string(kMaxThreadIdBytes + 1, 'T'), 1), ""},
      {Msg("ok@x", "", 1), std::string(kMaxIdBytes + 1, 'r')},
  };
  for (const Case& c : cases) {
    auto got = store_->RecordMessage(c.rec, c.root);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidInput);
  }
  EXPECT_FALSE(store_->FindMessage("").ok());
  EXPECT_FALSE(store_->FindThread("").ok());
  auto nothing = store_->FindMessage("ok@x");
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
}

TEST_F(store_thread_store, SweepRemovesOnlyOldEntriesAndEmptyThreads) {
  const std::string old_root(22, 'O');
  MessageRecord old1 = Record(Msg("old1@x", "", 100), old_root);
  Record(Msg(std::string(800, 'o') + "@x", old1.thread_id, 150));
  MessageRecord mixed = Record(Msg("mixed-old@x", "", 120));
  Record(Msg("mixed-new@x", mixed.thread_id, 500));
  MessageRecord fresh = Record(Msg("fresh@x", "", 600));

  auto stats = store_->Sweep(200);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->messages, 3u);
  EXPECT_EQ(stats->threads, 1u);

  EXPECT_FALSE(Thread(old1.thread_id).has_value());
  auto gone_root = store_->FindThreadByIndex(old_root);
  ASSERT_TRUE(gone_root.ok());
  EXPECT_FALSE(gone_root->has_value());
  for (const std::string& id :
       {std::string("old1@x"), std::string(800, 'o') + "@x", std::string("mixed-old@x")}) {
    auto found = store_->FindMessage(id);
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value()) << id.substr(0, 20);
  }
  auto mixed_thread = Thread(mixed.thread_id);
  ASSERT_TRUE(mixed_thread);
  EXPECT_EQ(mixed_thread->message_count, 1u);
  EXPECT_EQ(mixed_thread->recent_msgids, std::vector<std::string>{"mixed-new@x"});
  EXPECT_EQ(MessageIds(mixed.thread_id), std::vector<std::string>{"mixed-new@x"});
  EXPECT_TRUE(Thread(fresh.thread_id).has_value());
  EXPECT_TRUE(store_->FindMessage("fresh@x")->has_value());

  auto again = store_->Sweep(200);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->messages, 0u);
  EXPECT_EQ(again->threads, 0u);
}

TEST_F(store_thread_store, SweepWorksInBatches) {
  const int kOld = static_cast<int>(kSweepBatch) * 2 + 500;
  const std::string tid = ThreadStore::NewThreadId();
  Status st = env_->Write([&](WriteTxn&) -> Status { return {}; });  // warm-up no-op
  ASSERT_TRUE(st.ok());
  for (int i = 0; i < kOld; ++i) Record(Msg("b" + std::to_string(i) + "@x", tid, 1000 + i));
  Record(Msg("keep@x", tid, 100000));
  auto stats = store_->Sweep(50000);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->messages, static_cast<uint64_t>(kOld));
  EXPECT_EQ(stats->threads, 0u);
  EXPECT_EQ(MessageIds(tid), std::vector<std::string>{"keep@x"});
  EXPECT_EQ(Thread(tid)->message_count, 1u);
}

TEST_F(store_thread_store, ConcurrentWritersAllLand) {
  // A small map so that growth happens while eight threads write.
  TempDir dir;
  auto env = OpenOrDie(dir.path(), size_t{64} << 10);
  ASSERT_TRUE(env);
  ThreadStore store(env);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::string> thread_ids(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::string tid;
      for (int i = 0; i < kPerThread; ++i) {
        auto rec = store.RecordMessage(
            Msg("w" + std::to_string(t) + "-" + std::to_string(i) + "@x", tid, i));
        if (!rec.ok()) {
          ++failures[t];
          continue;
        }
        tid = rec->thread_id;
        auto back = store.FindMessage(rec->msgid);  // readers interleave with writers
        if (!back.ok() || !back->has_value()) ++failures[t];
      }
      thread_ids[t] = tid;
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_GT(env->map_size(), size_t{64} << 10);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << t;
    auto thread = store.FindThread(thread_ids[t]);
    ASSERT_TRUE(thread.ok() && thread->has_value());
    EXPECT_EQ((*thread)->message_count, static_cast<uint64_t>(kPerThread));
    auto msgs = store.ThreadMessages(thread_ids[t]);
    ASSERT_TRUE(msgs.ok());
    EXPECT_EQ(msgs->size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; i += 97) {
      auto m = store.FindMessage("w" + std::to_string(t) + "-" + std::to_string(i) + "@x");
      ASSERT_TRUE(m.ok() && m->has_value());
    }
  }
}

TEST(store_thread_id, FormatUniquenessAndOrder) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = ThreadStore::NewThreadId();
    ASSERT_EQ(id.size(), 21u);
    ASSERT_EQ(id[0], 'T');
    for (char c : id.substr(1)) {
      ASSERT_NE(std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(c), std::string::npos);
    }
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
  std::string earlier = ThreadStore::NewThreadId();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  EXPECT_LT(earlier, ThreadStore::NewThreadId());
}

}  // namespace
}  // namespace threadmill::store
