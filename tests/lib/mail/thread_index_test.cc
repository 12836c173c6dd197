// thread_index_test.cc - Outlook Thread-Index.
#include "mail/thread_index.h"

#include <gtest/gtest.h>

#include <string>

#include "mail/transfer_encoding.h"

namespace threadmill::mail {
namespace {

TEST(mail_thread_index, RootOnly) {
  std::string header(22, '\x01');
  ThreadIndex t = ParseThreadIndex(Base64Encode(header));
  EXPECT_TRUE(t.valid);
  EXPECT_EQ(t.root, Base64Encode(header));
  EXPECT_EQ(t.root.size(), 32u);
  EXPECT_EQ(t.child_blocks, 0u);
  EXPECT_TRUE(t.defects.empty());
}

TEST(mail_thread_index, RepliesShareRoot) {
  std::string header = "\x01\xD0\x12\x34\x56\x78" + std::string(16, '\xAB');
  ThreadIndex first = ParseThreadIndex(Base64Encode(header));
  ThreadIndex reply =
      ParseThreadIndex(Base64Encode(header + std::string("\x00\x00\x01\x02\x03", 5)));
  ThreadIndex reply2 =
      ParseThreadIndex(" " + Base64Encode(header + std::string(10, '\x07')) + "\r\n");
  ASSERT_TRUE(reply.valid);
  ASSERT_TRUE(reply2.valid);
  EXPECT_EQ(reply.root, first.root);
  EXPECT_EQ(reply2.root, first.root);
  EXPECT_EQ(reply.child_blocks, 1u);
  EXPECT_EQ(reply2.child_blocks, 2u);
}

// The hex form: a reply's index starts with its parent's (resolver.h parents).
TEST(mail_thread_index, HexIsPrefixOfReplies) {
  std::string header = "\x01\xD0\x12\x34\x56\x78" + std::string(16, '\xAB');
  ThreadIndex first = ParseThreadIndex(Base64Encode(header));
  ThreadIndex reply =
      ParseThreadIndex(Base64Encode(header + std::string("\x00\x00\x01\x02\x03", 5)));
  EXPECT_EQ(first.hex.size(), 44u);
  EXPECT_EQ(first.hex.substr(0, 12), "01d012345678");
  EXPECT_EQ(reply.hex.size(), 54u);
  EXPECT_EQ(reply.hex, first.hex + "0000010203");
  EXPECT_EQ(ParseThreadIndex("not base64!").hex, "");
}

TEST(mail_thread_index, RealOutlookValue) {
  // A Thread-Index as Outlook writes it (22 bytes + one child block).
  ThreadIndex t = ParseThreadIndex("AdnGKmTfmWnUtF2lQ5i1Cw8kHOyXdQAAJwVg");
  EXPECT_TRUE(t.valid);
  EXPECT_EQ(t.child_blocks, 1u);
  EXPECT_EQ(t.root, "AdnGKmTfmWnUtF2lQ5i1Cw8kHOyXdQ==");
}

TEST(mail_thread_index, Invalid) {
  const std::string cases[] = {
      "", "not base64 !!!", Base64Encode(std::string(21, 'x')),  // too short
      Base64Encode(std::string(25, 'x')),                        // 22 + 3: not a whole child block
  };
  for (const auto& c : cases) {
    ThreadIndex t = ParseThreadIndex(c);
    EXPECT_FALSE(t.valid) << c;
    EXPECT_EQ(t.root, "") << c;
    EXPECT_EQ(t.defects.ToString(), "bad-thread-index") << c;
  }
  ThreadIndex huge = ParseThreadIndex(std::string(100000, 'A'));
  EXPECT_FALSE(huge.valid);
  EXPECT_TRUE(huge.defects.Has(Defect::kTooLong));
}

}  // namespace
}  // namespace threadmill::mail
