// Reply MIME: subjects, References trimming, encodings, and whole messages compared with
// golden .eml files in data/ (Message-ID, boundary and date injected deterministically).
// Set THREADMILL_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change.
#include "reply/builder.h"
#include "common/ascii.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "mail/header.h"
#include "mail/mime.h"
#include "mail/transfer_encoding.h"

namespace threadmill::reply {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ExpectGolden(const std::string& name, const std::string& got) {
  std::string path = std::string(THREADMILL_TEST_DATA) + "/" + name;
  if (std::getenv("THREADMILL_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << got;
  }
  EXPECT_EQ(got, ReadFile(path)) << "golden file " << path;
}

TEST(ReplySubject, NoStacking) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"Hello", "Re: Hello"},
      {"Re: Hello", "Re: Hello"},
      {"RE: Hello", "Re: Hello"},
      {"re:Hello", "Re: Hello"},
      {"Re: Re: RE: Hello", "Re: Hello"},
      {"AW: Hello", "Re: Hello"},
      {"Aw: Sv: Hello", "Re: Hello"},
      {"SV: Hello", "Re: Hello"},
      {"Antw: Hello", "Re: Hello"},
      {"Re[2]: Hello", "Re: Hello"},
      {"Re^3: Hello", "Re: Hello"},
      {"Re (2): Hello", "Re: Hello"},
      {"Réf: Hello", "Re: Hello"},
      {"回复: 你好", "Re: 你好"},
      {"Fwd: Hello", "Re: Fwd: Hello"},
      {"Regarding: x", "Re: Regarding: x"},
      {"Reply", "Re: Reply"},
      {"", "Re: "},
      {"  Re:   spaced", "Re: spaced"},
  };
  for (const auto& c : cases) EXPECT_EQ(ReplySubject(c.in), c.want) << c.in;
}

TEST(ReplyReferences, AppendsParent) {
  EXPECT_EQ(ReplyReferences({"a@x", "b@x"}, "c@x", 100),
            (std::vector<std::string>{"a@x", "b@x", "c@x"}));
  EXPECT_EQ(ReplyReferences({}, "c@x", 100), (std::vector<std::string>{"c@x"}));
  // The parent already last (some clients do that): not duplicated.
  EXPECT_EQ(ReplyReferences({"a@x", "c@x"}, "c@x", 100), (std::vector<std::string>{"a@x", "c@x"}));
}

TEST(ReplyReferences, TrimKeepsFirstAndMostRecent) {
  std::vector<std::string> refs;
  for (int i = 0; i < 100; ++i) refs.push_back("r" + std::to_string(i) + "@x");
  auto got = ReplyReferences(refs, "parent@x", 100);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got.front(), "r0@x");
  EXPECT_EQ(got[1], "r2@x");
  EXPECT_EQ(got[98], "r99@x");
  EXPECT_EQ(got.back(), "parent@x");
  auto small = ReplyReferences(refs, "parent@x", 3);
  EXPECT_EQ(small, (std::vector<std::string>{"r0@x", "r99@x", "parent@x"}));
}

TEST(ReplyReferences, ByteCap) {
  std::vector<std::string> refs;
  for (int i = 0; i < 90; ++i) refs.push_back(std::string(300, 'a' + i % 26) + "@x");
  auto got = ReplyReferences(refs, "parent@x", 100);
  size_t bytes = 0;
  for (const auto& id : got) bytes += id.size() + 3;
  EXPECT_LE(bytes, kMaxReferencesBytes);
  EXPECT_EQ(got.front(), refs.front());
  EXPECT_EQ(got.back(), "parent@x");
  EXPECT_EQ(got[got.size() - 2], refs.back());
}

TEST(Encoding, QuotedPrintableRoundTrip) {
  std::string text = "Grüße aus Köln\nA line with trailing space \n" + std::string(200, 'x') +
                     "\nFrom the start\n.\n=equals=\n";
  std::string qp = EncodeQuotedPrintable(text);
  std::istringstream lines(qp);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 76u) << line;
  EXPECT_NE(qp.find("=46rom the start"), std::string::npos);
  EXPECT_NE(qp.find("space=20\n"), std::string::npos);
  EXPECT_EQ(mail::QuotedPrintableDecode(qp), text);
}

TEST(Encoding, DateIsRfc5322Utc) {
  EXPECT_EQ(FormatDate(1751364000), "Tue, 01 Jul 2025 10:00:00 +0000");
  EXPECT_EQ(FormatDate(0), "Thu, 01 Jan 1970 00:00:00 +0000");
}

OutgoingMessage Base() {
  OutgoingMessage m;
  m.from_address = "help@example.com";
  m.to = {"alice@example.org"};
  m.subject = ReplySubject("Re: Printer on fire");
  m.message_id = "tm.fixed.0001@example.com";
  m.in_reply_to = "m2@example.org";
  m.references = ReplyReferences({"m0@example.com", "m1@example.org"}, "m2@example.org", 100);
  m.auto_submitted = "auto-replied";
  m.text = "Thanks, we are on it.\n\n-- \nThe help desk\n";
  m.date = 1751364000;
  m.boundary = "=_tm_fixedboundary";
  return m;
}

TEST(RenderMessage, PlainAsciiGolden) { ExpectGolden("reply_plain.eml", RenderMessage(Base())); }

TEST(RenderMessage, Utf8SubjectAndNameGolden) {
  OutgoingMessage m = Base();
  m.subject = ReplySubject("AW: Grüße aus Köln – Rechnung Nr. 42");
  m.from_name = "Hilfe Köln";
  m.text = "Vielen Dank für Ihre Nachricht.\r\nWir melden uns.\r\n";
  ExpectGolden("reply_utf8.eml", RenderMessage(m));
}

TEST(RenderMessage, HtmlAlternativeGolden) {
  OutgoingMessage m = Base();
  m.html = "<p>Thanks, we are <b>on it</b>.</p>\n";
  ExpectGolden("reply_html.eml", RenderMessage(m));
}

TEST(RenderMessage, MostlyNonAsciiUsesBase64Golden) {
  OutgoingMessage m = Base();
  m.subject = ReplySubject("你好");
  m.text = "谢谢，我们正在处理。\n";
  ExpectGolden("reply_base64.eml", RenderMessage(m));
}

TEST(RenderMessage, NoHeaderInjection) {
  OutgoingMessage m = Base();
  m.subject = "Hi\r\nBcc: victim@example.net";
  m.from_name = "Evil\nBcc: x@y";
  std::string out = RenderMessage(m);
  auto split = mail::SplitMessage(out);
  EXPECT_EQ(split.headers.Find("Bcc"), nullptr);
}

TEST(RenderMessage, ParsesBack) {
  std::string out = RenderMessage(Base());
  auto split = mail::SplitMessage(out);
  ASSERT_NE(split.headers.Find("In-Reply-To"), nullptr);
  EXPECT_EQ(std::string(ascii::Trim(split.headers.Find("In-Reply-To")->value)), "<m2@example.org>");
  EXPECT_EQ(mail::Unfold(split.headers.Find("References")->value),
            "<m0@example.com> <m1@example.org> <m2@example.org>");
  EXPECT_EQ(split.headers.Find("Subject")->value, "Re: Printer on fire");
}

// ABI 1.1 content: Cc, an extra header, html + two attachments (one UTF-8 filename: RFC
// 2231) in a multipart/mixed whose boundary is not a prefix of the alternative's.
TEST(RenderMessage, AttachmentsCcAndExtraHeadersGolden) {
  OutgoingMessage m = Base();
  m.cc = {"carol@example.org", "dave@example.org"};
  m.html = "<p>Attached.</p>\n";
  m.extra_headers = {{"X-Campaign", "spring"}, {"List-Unsubscribe", "<mailto:u@example.com>"}};
  m.attachments = {{"report.pdf", "application/pdf", std::string("%PDF-1.4\0\x01\xff", 11)},
                   {"Grüße \"1\".txt", "", "hello"}};
  m.mixed_boundary = "m=_tm_fixedboundary";
  std::string out = RenderMessage(m);
  ExpectGolden("send_attachments.eml", out);
  mail::ParsedMessage parsed = mail::ParseMessage(out);
  ASSERT_EQ(parsed.attachments.size(), 2u);
  EXPECT_EQ(parsed.attachments[0].filename, "report.pdf");
  EXPECT_EQ(parsed.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(*mail::ExtractAttachment(out, parsed.attachments[0].file_id),
            std::string("%PDF-1.4\0\x01\xff", 11));
  EXPECT_EQ(parsed.attachments[1].filename, "Grüße \"1\".txt");
  EXPECT_EQ(parsed.attachments[1].content_type, "application/octet-stream");
  EXPECT_NE(parsed.text.find("Thanks, we are on it."), std::string::npos);
  EXPECT_EQ(parsed.headers.Find("X-Campaign")->value, "spring");
  EXPECT_EQ(mail::Unfold(parsed.headers.Find("Cc")->value),
            "<carol@example.org>, <dave@example.org>");
}

// A person approved the reply: Auto-Submitted: no (RFC 3834 section 5).
TEST(RenderMessage, AutoSubmittedAsGiven) {
  OutgoingMessage m = Base();
  m.auto_submitted = "no";
  EXPECT_NE(RenderMessage(m).find("\nAuto-Submitted: no\n"), std::string::npos);
}

TEST(CheckExtraHeader, OwnedNamesAndBadValues) {
  struct Case {
    std::string name, value, want;
  } cases[] = {
      {"X-Campaign", "spring", ""},
      {"Reply-To", "<desk@example.com>", ""},
      {"List-Unsubscribe", "<mailto:u@example.com>", ""},
      {"X-Tab", "a\tb", ""},
      {"From", "a@b", "header-owned:From"},
      {"to", "a@b", "header-owned:to"},
      {"CC", "a@b", "header-owned:CC"},
      {"Bcc", "a@b", "header-owned:Bcc"},
      {"Sender", "a@b", "header-owned:Sender"},
      {"Subject", "s", "header-owned:Subject"},
      {"Date", "d", "header-owned:Date"},
      {"Message-ID", "<a@b>", "header-owned:Message-ID"},
      {"In-Reply-To", "<a@b>", "header-owned:In-Reply-To"},
      {"References", "<a@b>", "header-owned:References"},
      {"Auto-Submitted", "no", "header-owned:Auto-Submitted"},
      {"Precedence", "bulk", "header-owned:Precedence"},
      {"MIME-Version", "1.0", "header-owned:MIME-Version"},
      {"Content-Type", "text/plain", "header-owned:Content-Type"},
      {"content-transfer-encoding", "8bit", "header-owned:content-transfer-encoding"},
      {"Resent-From", "a@b", "header-owned:Resent-From"},
      {"DKIM-Signature", "v=1", "header-owned:DKIM-Signature"},
      {"ARC-Seal", "i=1", "header-owned:ARC-Seal"},
      {"Received", "x", "header-owned:Received"},
      {"Return-Path", "<>", "header-owned:Return-Path"},
      {"Authentication-Results", "x", "header-owned:Authentication-Results"},
      {"", "v", "header-name"},
      {"X Space", "v", "header-name"},
      {"X:Colon", "v", "header-name"},
      {std::string(77, 'X'), "v", "header-name"},
      {"X-Inject", "a\r\nBcc: b@c", "header-value"},
      {"X-Nul", std::string("a\0b", 3), "header-value"},
      {"X-Long", std::string(999, 'a'), "header-value"},
  };
  for (const auto& c : cases) EXPECT_EQ(CheckExtraHeader(c.name, c.value), c.want) << c.name;
}

TEST(CheckContentType, TypeSlashSubtypeOnly) {
  EXPECT_TRUE(CheckContentType("application/pdf"));
  EXPECT_TRUE(CheckContentType("text/x-c++src"));
  EXPECT_FALSE(CheckContentType("text"));
  EXPECT_FALSE(CheckContentType("/plain"));
  EXPECT_FALSE(CheckContentType("text/"));
  EXPECT_FALSE(CheckContentType("text/plain; charset=utf-8"));
  EXPECT_FALSE(CheckContentType("text/plain\r\nBcc: x"));
}

TEST(NewMessageId, FreshAtDomain) {
  std::string a = NewMessageId("example.com");
  std::string b = NewMessageId("example.com");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(a.size() - 12), "@example.com");
  EXPECT_EQ(a.rfind("tm.", 0), 0u);
}

}  // namespace
}  // namespace threadmill::reply
