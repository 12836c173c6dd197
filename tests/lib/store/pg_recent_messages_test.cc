// Unit tests of store/postgresql/pg_recent_messages.h: which stored messages a process may
// answer from memory, and for how long (no database needed).
#include "store/postgresql/pg_recent_messages.h"

#include <gtest/gtest.h>

namespace threadmill::store::pg {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kDay = 86400;

MessageRecord Inbound(const std::string& msgid, int64_t time) {
  MessageRecord rec;
  rec.msgid = msgid;
  rec.thread_id = "t-" + msgid;
  rec.direction = Direction::kInbound;
  rec.time = time;
  rec.from = "carol@example.org";
  rec.to = {"alice@example.com"};
  rec.subject = "hello";
  return rec;
}

TEST(RecentMessages, AnswersWhatThisProcessStoredWithinFiveMinutes) {
  RecentMessages recent(180 * kDay);
  ASSERT_TRUE(recent.enabled());
  MessageRecord rec = Inbound("a@x", kNow);
  recent.Remember(rec, kNow);
  auto hit = recent.Recall("a@x", kNow + 10);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, rec);
  EXPECT_FALSE(recent.Recall("b@x", kNow + 10).has_value());
  EXPECT_TRUE(recent.Recall("a@x", kNow + RecentMessages::kMaxAgeSeconds - 1).has_value());
  EXPECT_FALSE(recent.Recall("a@x", kNow + RecentMessages::kMaxAgeSeconds).has_value());
}

TEST(RecentMessages, NothingWhenTheRetentionCouldSweepIt) {
  // retention_days = 0 sweeps everything older than the sweep itself: never from memory.
  RecentMessages none(0);
  EXPECT_FALSE(none.enabled());
  none.Remember(Inbound("a@x", kNow), kNow);
  EXPECT_FALSE(none.Recall("a@x", kNow).has_value());
  RecentMessages short_retention(2 * RecentMessages::kMaxAgeSeconds - 1);
  EXPECT_FALSE(short_retention.enabled());
  EXPECT_TRUE(RecentMessages(2 * RecentMessages::kMaxAgeSeconds).enabled());
}

TEST(RecentMessages, NotAMessageWhoseOwnTimeIsOld) {
  // A record's `time` is what the sweep compares: an old one may be swept by any host soon.
  RecentMessages recent(kDay);
  recent.Remember(Inbound("old@x", kNow - RecentMessages::kMaxAgeSeconds), kNow);
  EXPECT_FALSE(recent.Recall("old@x", kNow).has_value());
  recent.Remember(Inbound("future@x", kNow + 60), kNow);
  EXPECT_FALSE(recent.Recall("future@x", kNow).has_value());
}

TEST(RecentMessages, NotAReinjectedReplyBeforeItsEcho) {
  // Its row changes when the outbound echo adds the queue id (pg_thread_backend.cc).
  RecentMessages recent(kDay);
  MessageRecord reply = Inbound("reply@x", kNow);
  reply.direction = Direction::kOutbound;
  recent.Remember(reply, kNow);
  EXPECT_FALSE(recent.Recall("reply@x", kNow).has_value());
  reply.queue_id = "4ABCD1234";  // an outbound message seen by the milter: final
  recent.Remember(reply, kNow);
  EXPECT_TRUE(recent.Recall("reply@x", kNow).has_value());
}

TEST(RecentMessages, BoundedAndClearable) {
  RecentMessages recent(kDay);
  for (size_t i = 0; i < RecentMessages::kCapacity; ++i) {
    recent.Remember(Inbound("m" + std::to_string(i) + "@x", kNow), kNow);
  }
  EXPECT_TRUE(recent.Recall("m0@x", kNow).has_value());
  recent.Remember(Inbound("one-more@x", kNow), kNow);  // full: emptied, then kept
  EXPECT_FALSE(recent.Recall("m0@x", kNow).has_value());
  EXPECT_TRUE(recent.Recall("one-more@x", kNow).has_value());
  recent.Clear();
  EXPECT_FALSE(recent.Recall("one-more@x", kNow).has_value());
}

}  // namespace
}  // namespace threadmill::store::pg
