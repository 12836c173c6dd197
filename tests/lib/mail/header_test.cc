// header_test.cc - tests for lib/mail/header: unfolding, comments, HeaderList, SplitMessage.
#include "mail/header.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/ascii.h"

namespace threadmill::mail {
namespace {

TEST(mail_header, UnfoldTable) {
  struct Case {
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"plain", "plain"},
      {"a\r\n b", "a b"},
      {"a\n\tb", "a\tb"},
      {"a\r\n  b\r\n c", "a  b c"},
      {"trailing\r\n", "trailing"},
      {"trailing lf\n", "trailing lf"},
      {"a\r\nb", "a\r\nb"},  // not a fold: kept
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(Unfold(c.in), c.want) << c.in;
}

TEST(mail_header, StripCommentsTable) {
  struct Case {
    std::string in, want, defects;
  };
  const std::vector<Case> cases = {
      {"text/plain (comment)", "text/plain  ", ""},
      {"a (x (nested) y) b", "a   b", ""},
      {"a (with \\) paren) b", "a   b", ""},
      {"\"quoted (not a comment)\" x", "\"quoted (not a comment)\" x", ""},
      {"\"esc \\\" (still quoted)\"", "\"esc \\\" (still quoted)\"", ""},
      {"a (open", "a  ", "unterminated"},
      {"no comment", "no comment", ""},
  };
  for (const auto& c : cases) {
    Defects d;
    EXPECT_EQ(StripComments(c.in, &d), c.want) << c.in;
    EXPECT_EQ(d.ToString(), c.defects) << c.in;
  }
}

TEST(mail_header, HeaderListLookup) {
  HeaderList h;
  h.Append("Received", "one");
  h.Append("Subject", "hi");
  h.Append("RECEIVED", "two");
  EXPECT_EQ(h.size(), 3u);
  ASSERT_NE(h.Find("subject"), nullptr);
  EXPECT_EQ(h.Find("SUBJECT")->value, "hi");
  EXPECT_EQ(h.Find("received")->value, "one");
  EXPECT_EQ(h.Find("Missing"), nullptr);
  auto all = h.FindAll("Received");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]->value, "two");
  EXPECT_EQ(h.Count("received"), 2u);
  EXPECT_EQ(h.Count("x"), 0u);
  EXPECT_TRUE(ascii::EqualsIgnoreCase("Message-ID", "message-id"));
  EXPECT_FALSE(ascii::EqualsIgnoreCase("Message-ID", "message-i"));
}

TEST(mail_header, SplitCrlf) {
  std::string raw = "From: a@b\r\nSubject: hello\r\n world\r\nX-Empty:\r\n\r\nbody line\r\n";
  auto got = SplitMessage(raw);
  ASSERT_EQ(got.headers.size(), 3u);
  EXPECT_EQ(got.headers[0].name, "From");
  EXPECT_EQ(got.headers[0].value, "a@b");
  EXPECT_EQ(got.headers[1].value, "hello\r\n world");
  EXPECT_EQ(Unfold(got.headers[1].value), "hello world");
  EXPECT_EQ(got.headers[2].value, "");
  EXPECT_EQ(raw.substr(got.body_offset), "body line\r\n");
  EXPECT_TRUE(got.defects.empty());
}

TEST(mail_header, SplitLfOnly) {
  std::string raw = "Subject: x\n\ty\nTo: c@d\n\nbody\n";
  auto got = SplitMessage(raw);
  ASSERT_EQ(got.headers.size(), 2u);
  EXPECT_EQ(got.headers[0].value, "x\n\ty");
  EXPECT_EQ(raw.substr(got.body_offset), "body\n");
}

TEST(mail_header, SplitObsoleteSpaceBeforeColon) {
  auto got = SplitMessage("Subject : old style\r\n\r\n");
  ASSERT_EQ(got.headers.size(), 1u);
  EXPECT_EQ(got.headers[0].name, "Subject");
  EXPECT_EQ(got.headers[0].value, "old style");
}

TEST(mail_header, SplitMissingBlankLine) {
  std::string raw = "Subject: x\r\nThis is the body, no blank line\r\nmore\r\n";
  auto got = SplitMessage(raw);
  ASSERT_EQ(got.headers.size(), 1u);
  EXPECT_EQ(raw.substr(got.body_offset), "This is the body, no blank line\r\nmore\r\n");
  EXPECT_EQ(got.defects.ToString(), "missing-blank-line");
}

TEST(mail_header, SplitHeadersOnly) {
  std::string raw = "Subject: x\r\nTo: y";
  auto got = SplitMessage(raw);
  ASSERT_EQ(got.headers.size(), 2u);
  EXPECT_EQ(got.headers[1].value, "y");
  EXPECT_EQ(got.body_offset, raw.size());
}

TEST(mail_header, SplitMboxFromLine) {
  std::string raw = "From joe@x Tue Mar  5 10:00:00 2024\nSubject: s\n\nb";
  auto got = SplitMessage(raw);
  ASSERT_EQ(got.headers.size(), 1u);
  EXPECT_EQ(got.headers[0].name, "Subject");
  EXPECT_EQ(raw.substr(got.body_offset), "b");
}

TEST(mail_header, SplitLeadingContinuation) {
  auto got = SplitMessage(" orphan\r\nSubject: s\r\n\r\n");
  ASSERT_EQ(got.headers.size(), 1u);
  EXPECT_EQ(got.defects.ToString(), "bad-header-line");
}

TEST(mail_header, SplitOverLongFieldIsCut) {
  SplitLimits limits;
  limits.max_field_bytes = 100;
  std::string raw = "X-Big: " + std::string(500, 'a') + "\r\n" + std::string(" b\r\n") +
                    "Subject: ok\r\n\r\nbody";
  auto got = SplitMessage(raw, limits);
  ASSERT_EQ(got.headers.size(), 2u);
  EXPECT_EQ(got.headers[0].value.size(), 100u);
  EXPECT_EQ(got.headers[1].value, "ok");
  EXPECT_EQ(raw.substr(got.body_offset), "body");
  EXPECT_EQ(got.defects.ToString(), "header-too-long");
}

TEST(mail_header, SplitHugeHeaderBlockIsCapped) {
  SplitLimits limits;
  limits.max_header_bytes = 1000;
  std::string raw;
  for (int i = 0; i < 5000; ++i) raw += "X-H" + std::to_string(i) + ": v\r\n";
  raw += "\r\nbody";
  auto got = SplitMessage(raw, limits);
  EXPECT_LT(got.headers.size(), 200u);
  EXPECT_GT(got.headers.size(), 10u);
  EXPECT_EQ(raw.substr(got.body_offset), "body");
  EXPECT_TRUE(got.defects.Has(Defect::kHeaderTooLong));
}

TEST(mail_header, SplitNulAnd8bitValues) {
  std::string raw("Subject: a\0b \xE9\r\n\r\nx", 19);
  auto got = SplitMessage(raw);
  ASSERT_EQ(got.headers.size(), 1u);
  EXPECT_EQ(got.headers[0].value, std::string("a\0b \xE9", 5));
  EXPECT_EQ(raw.substr(got.body_offset), "x");
}

TEST(mail_header, SplitEmptyInput) {
  auto got = SplitMessage("");
  EXPECT_TRUE(got.headers.empty());
  EXPECT_EQ(got.body_offset, 0u);
}

}  // namespace
}  // namespace threadmill::mail
