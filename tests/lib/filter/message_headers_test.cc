#include "filter/message_headers.h"

#include <gtest/gtest.h>

#include <chrono>

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

namespace threadmill::filter {
namespace {

// Issue 8 item 1: a header flood costs linear time and bounded memory, and the fields that
// decisions read are still the first copies.
TEST(MessageHeadersTest, HeaderFloodIsLinearAndCapped) {
  HeaderLimits limits;
  limits.max_header_bytes = 1 << 20;
  limits.max_fields = 1000;
  MessageHeaders headers(limits, "mx.example.com");
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 36500; ++i) headers.Add(i % 2 ? "Subjecx" : "SUBJECY", "filler");
  for (int i = 0; i < 30000; ++i) headers.Add("Subject", "copy " + std::to_string(i));
  headers.Add("List-Id", "<late.example.org>");
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(headers.count(), 66501u);
  EXPECT_LE(headers.fields().size(), limits.max_fields + 11);  // + first decision copies
  EXPECT_EQ(headers.First("subject"), "copy 0");
  EXPECT_TRUE(headers.Has("List-Id"));
  EXPECT_TRUE(headers.has_list_field());
  EXPECT_TRUE(headers.defects().Has(mail::Defect::kHeaderTooLong));
  EXPECT_LT(took.count(), 3.0);  // the quadratic version took ~7 s for this on one core
}

TEST(MessageHeadersTest, FieldBytesCap) {
  HeaderLimits limits;
  limits.max_field_bytes = 1024;
  MessageHeaders headers(limits, "");
  headers.Add("Subject", std::string(5000, 's'));
  EXPECT_EQ(headers.First("Subject").size(), 1024u);
  EXPECT_TRUE(headers.defects().Has(mail::Defect::kHeaderTooLong));
}

struct ForgedCase {
  const char* name;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<int> want;
};

TEST(MessageHeadersTest, ForgedAuthResultsAreFoundPastEveryCap) {
  std::vector<std::pair<std::string, std::string>> flood;
  for (int i = 0; i < 200; ++i) flood.emplace_back("X-Filler", std::string(100, 'f'));
  std::vector<ForgedCase> cases = {
      {"none", {{"Subject", "hi"}}, {}},
      {"ours", {{"Authentication-Results", "mx.example.com; dmarc=pass"}}, {1}},
      {"case and leading space", {{"authentication-results", " MX.Example.COM; spf=pass"}}, {1}},
      {"others are counted",
       {{"Authentication-Results", "other.example; dmarc=pass"},
        {"Authentication-Results", "mx.example.com; dmarc=pass"},
        {"Authentication-Results", "mx.example.com.evil; dmarc=pass"},
        {"Authentication-Results", "mx.example.com"}},
       {2, 4}},
  };
  for (const auto& c : cases) {
    HeaderLimits limits;
    limits.max_header_bytes = 4096;  // the flood goes past it: A-R fields are not stored
    limits.max_fields = 100;
    MessageHeaders headers(limits, "mx.example.com");
    for (const auto& [n, v] : flood) headers.Add(n, v);
    for (const auto& [n, v] : c.fields) headers.Add(n, v);
    EXPECT_EQ(headers.ForgedAuthResults(), c.want) << c.name;
  }
  MessageHeaders no_id(HeaderLimits{}, "");
  no_id.Add("Authentication-Results", "mx.example.com; dmarc=pass");
  EXPECT_TRUE(no_id.ForgedAuthResults().empty());
}

}  // namespace
}  // namespace threadmill::filter
