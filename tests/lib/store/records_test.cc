// records_test.cc - MessageRecord / ThreadRecord serialization.
#include "store/records.h"

#include <gtest/gtest.h>

namespace threadmill::store {
namespace {

TEST(store_records, MessageRoundTrips) {
  MessageRecord full{"abc@example.org",
                     "T123",
                     Direction::kOutbound,
                     "helpdesk",
                     1700000000,
                     "a@example.org",
                     {"b@example.net", "c@example.com"},
                     "Hello \xc3\xa9",
                     "parent@x",
                     "4XyZ1C2",
                     "",
                     "references"};
  MessageRecord empty;
  empty.msgid = "m@x";
  MessageRecord negative_time = empty;
  negative_time.time = -5;
  for (const MessageRecord& rec : {full, empty, negative_time}) {
    auto back = DecodeMessage(EncodeMessage(rec));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, rec);
  }
}

TEST(store_records, ThreadIndexRoundTripsAndIsOptional) {
  MessageRecord rec;
  rec.msgid = "a@b";
  EXPECT_EQ(EncodeMessage(rec).find("tix"), std::string::npos);
  rec.thread_index = "01d0ab";
  auto back = DecodeMessage(EncodeMessage(rec));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->thread_index, "01d0ab");
}

// The match method (the console's timeline) is kept when set; old records decode without it.
TEST(store_records, MatchMethodRoundTripsAndIsOptional) {
  MessageRecord rec;
  rec.msgid = "a@b";
  EXPECT_EQ(EncodeMessage(rec).find("match"), std::string::npos);
  rec.match = "in-reply-to";
  auto back = DecodeMessage(EncodeMessage(rec));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->match, "in-reply-to");
}

TEST(store_records, ThreadRoundTrips) {
  ThreadRecord rec{"T1", 10, 20, "owner", "subj", 3, {"a@x", "b@x"}, {"p@x"}, {"root"}};
  auto back = DecodeThread(EncodeThread(rec));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, rec);
}

TEST(store_records, EncodingCarriesVersion) {
  EXPECT_NE(EncodeMessage(MessageRecord{}).find("\"v\":1"), std::string::npos);
  EXPECT_NE(EncodeThread(ThreadRecord{}).find("\"v\":1"), std::string::npos);
}

TEST(store_records, CorruptInputIsAnErrorNotAThrow) {
  const char* cases[] = {"", "{", "[]", "42", "{\"time\":\"soon\"}", "{\"to\":\"x\"}"};
  for (const char* c : cases) {
    auto rec = DecodeMessage(c);
    ASSERT_FALSE(rec.ok()) << c;
    EXPECT_EQ(rec.error().code, ErrorCode::kStore);
  }
  EXPECT_FALSE(DecodeThread("{\"recent\":{}}").ok());
}

TEST(store_records, UnknownFieldsIgnoredMissingFieldsDefault) {
  auto rec = DecodeMessage("{\"v\":7,\"msgid\":\"m@x\",\"future\":[1,2]}");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->msgid, "m@x");
  EXPECT_EQ(rec->direction, Direction::kInbound);
  EXPECT_TRUE(rec->to.empty());
}

TEST(store_records, InvalidUtf8IsReplacedNotThrown) {
  MessageRecord rec;
  rec.msgid = "m@x";
  rec.subject = "bad \xff\xfe bytes";
  std::string json = EncodeMessage(rec);
  auto back = DecodeMessage(json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->subject, "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
}

}  // namespace
}  // namespace threadmill::store
