#include "filter/message_headers.h"

#include <gtest/gtest.h>

namespace threadmill::filter {
namespace {

TEST(MessageHeadersTest, ParsesThreadingFields) {
  MessageHeaders headers(1 << 20);
  headers.Add("Subject", "hello");
  headers.Add("Message-Id", " <Abc.1@Example.COM>");
  headers.Add("In-Reply-To", "<parent@example.org> (comment)");
  headers.Add("References", "<root@example.org>\r\n\t<parent@example.org>");
  auto threading = headers.ThreadingHeaders();
  EXPECT_EQ(threading.message_id, "Abc.1@example.com");
  EXPECT_EQ(threading.in_reply_to, std::vector<std::string>{"parent@example.org"});
  EXPECT_EQ(threading.references,
            (std::vector<std::string>{"root@example.org", "parent@example.org"}));
  EXPECT_EQ(headers.ReferencesCount(), 2u);
  EXPECT_EQ(headers.First("subject"), "hello");
}

TEST(MessageHeadersTest, CapKeepsDecisionFields) {
  MessageHeaders headers(4096);
  std::string filler(1000, 'x');
  for (int i = 0; i < 20; ++i) headers.Add("X-Filler", filler);
  headers.Add("Message-ID", "<late@example.com>");
  EXPECT_EQ(headers.count(), 21u);
  EXPECT_LT(headers.fields().size(), 21u);
  EXPECT_TRUE(headers.defects().Has(mail::Defect::kHeaderTooLong));
  EXPECT_EQ(headers.ThreadingHeaders().message_id, "late@example.com");
}

TEST(MessageHeadersTest, ThousandsOfReferences) {
  std::string refs;
  for (int i = 0; i < 5000; ++i) refs += "<r" + std::to_string(i) + "@example.net>\r\n ";
  MessageHeaders headers(1 << 20);
  headers.Add("References", refs);
  EXPECT_EQ(headers.ReferencesCount(), 5000u);
}

TEST(MessageHeadersTest, NulAndEightBitAreData) {
  MessageHeaders headers(1 << 20);
  headers.Add("Message-ID", std::string("<a\0b@example.com>", 18));
  headers.Add("Subject", "\xff\xfe broken");
  auto threading = headers.ThreadingHeaders();  // must not crash; id may or may not survive
  EXPECT_EQ(headers.First("Subject"), "\xff\xfe broken");
  EXPECT_FALSE(headers.defects().empty());
  (void)threading;
}

}  // namespace
}  // namespace threadmill::filter
