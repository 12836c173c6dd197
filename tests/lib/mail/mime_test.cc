// mime_test.cc - golden .eml files through ParseMessage / ExtractAttachment.
#include "mail/mime.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

std::string ReadData(const std::string& name) {
  std::ifstream in(std::string(THREADMILL_TEST_DATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

std::string ToCrlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' && (out.empty() || out.back() != '\r')) out += '\r';
    out += c;
  }
  return out;
}

struct Golden {
  const char* file;
  std::string subject;
  Mailbox from;
  std::string text;
  bool from_html;
  std::vector<Attachment> attachments;
  std::string defects;
};

std::vector<Golden> Goldens() {
  return {
      {"multipart_alternative.eml",
       "R\xC3\xA9union de lundi",
       {"J\xC3\xB6rg M\xC3\xBCller", "Joerg@example.de"},
       "Bonjour \xC3\xA0 tous,\n\nLa r\xC3\xA9union est d\xC3\xA9plac\xC3\xA9"
       "e \xC3\xA0 15h.\n",
       false,
       {},
       ""},
      {"html_only.eml",
       "Your order",
       {"Newsletter", "news@shop.example"},
       "Thanks for your order\n\nTotal: 42\xE2\x82\xAC & free shipping\n\nItem Qty\n"
       "Caf\xC3\xA9 2\n\nQuestions? a < b",
       true,
       {},
       ""},
      {"latin1_qp.eml",
       "Caf\xC3\xA9",
       {"", "andre@example.fr"},
       "Un caf\xC3\xA9 cr\xC3\xA8me, s'il vous pla\xC3\xAEt \xE2\x80\x93 merci.\n"
       "Ligne tr\xC3\xA8s longue coup\xC3\xA9"
       "e en deux.\n",
       false,
       {},
       ""},
      {"base64_utf8.eml",
       "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
       {"Ivan", "ivan@example.ru"},
       "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80!\n"
       "\xD0\x92\xD1\x82\xD0\xBE\xD1\x80\xD0\xB0\xD1\x8F \xD1\x81\xD1\x82\xD1\x80\xD0\xBE"
       "\xD0\xBA\xD0\xB0.\n",
       false,
       {},
       ""},
      {"rfc2231_filename.eml",
       "filenames",
       {"", "a@example.com"},
       "See attached.",
       false,
       {{"2", "\xE2\x82\xAC Rechnung M\xC3\xA4rz.pdf", "application/pdf", 9},
        {"3", "\xC3\xA9t\xC3\xA9.bin", "application/octet-stream", 4}},
       ""},
      {"nested_attachments.eml",
       "Photos and notes",
       {"Apple User", "user@icloud.com"},
       "Here are the photos.\n\nSecond text part.",
       false,
       {{"1.2.2", "", "image/png", 8},
        {"2", "IMG_0001.jpg", "image/jpeg", 13},
        {"4", "", "message/rfc822", 0}},
       ""},
      {"broken_boundary.eml",
       "no boundary parameter",
       {"", "broken@example.com"},
       "Text that should still be found.",
       false,
       {{"2", "a.zip", "application/zip", 8}},  // no transfer encoding: 8 raw bytes
       "missing-boundary"},
      {"missing_content_type.eml",
       "missing type",
       {"", "old@example.com"},
       "Plain body with caf\xC3\xA9.\n",
       false,
       {},
       "missing-content-type"},
      {"unterminated.eml",
       "cut off",
       {"", "x@example.com"},
       "first part\nsecond part",
       false,
       {},
       "unterminated-multipart"},
      {"bogus_encoding.eml",
       "bogus",
       {"", "x@example.com"},
       "caf\xEF\xBF\xBD body\n",
       false,
       {},
       "invalid-utf8,unknown-encoding,unknown-charset"},
  };
}

void CheckGolden(const Golden& g, const std::string& raw, const std::string& label) {
  ParsedMessage m = ParseMessage(raw);
  EXPECT_EQ(m.subject, g.subject) << label;
  EXPECT_EQ(m.from.display_name, g.from.display_name) << label;
  EXPECT_EQ(m.from.address, g.from.address) << label;
  EXPECT_EQ(m.text, g.text) << label;
  EXPECT_EQ(m.text_from_html, g.from_html) << label;
  ASSERT_EQ(m.attachments.size(), g.attachments.size()) << label;
  for (size_t i = 0; i < g.attachments.size(); ++i) {
    EXPECT_EQ(m.attachments[i].file_id, g.attachments[i].file_id) << label;
    EXPECT_EQ(m.attachments[i].filename, g.attachments[i].filename) << label;
    EXPECT_EQ(m.attachments[i].content_type, g.attachments[i].content_type) << label;
    if (g.attachments[i].size) {
      EXPECT_EQ(m.attachments[i].size, g.attachments[i].size) << label;
    }
  }
  EXPECT_EQ(m.defects.ToString(), g.defects) << label;
}

TEST(mail_mime, GoldenLf) {
  for (const auto& g : Goldens()) CheckGolden(g, ReadData(g.file), g.file);
}

TEST(mail_mime, GoldenCrlf) {
  for (const auto& g : Goldens()) {
    CheckGolden(g, ToCrlf(ReadData(g.file)), std::string(g.file) + " (CRLF)");
  }
}

TEST(mail_mime, HeadersKept) {
  ParsedMessage m = ParseMessage(ReadData("multipart_alternative.eml"));
  ASSERT_NE(m.headers.Find("message-id"), nullptr);
  EXPECT_EQ(m.headers.Find("message-id")->value, "<CAJ7xYd9kQ@mail.gmail.com>");
  EXPECT_EQ(m.headers.size(), 7u);
}

TEST(mail_mime, ExtractAttachmentBytes) {
  std::string raw = ReadData("rfc2231_filename.eml");
  auto pdf = ExtractAttachment(raw, "2");
  ASSERT_TRUE(pdf.ok());
  EXPECT_EQ(*pdf, "%PDF-1.4\n");
  auto bin = ExtractAttachment(raw, "3");
  ASSERT_TRUE(bin.ok());
  EXPECT_EQ(*bin, std::string("\x00\x01\x02\xFF", 4));
  auto nested = ExtractAttachment(ReadData("nested_attachments.eml"), "1.2.2");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->substr(1, 3), "PNG");
  auto missing = ExtractAttachment(raw, "9");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(ExtractAttachment(raw, "").ok());
}

TEST(mail_mime, NoHeadersNoBody) {
  ParsedMessage m = ParseMessage("");
  EXPECT_TRUE(m.headers.empty());
  EXPECT_EQ(m.text, "");
  m = ParseMessage("just some text without headers\n");
  EXPECT_EQ(m.text, "just some text without headers\n");
  EXPECT_TRUE(m.defects.Has(Defect::kMissingBlankLine));
}

TEST(mail_mime, NulAndInvalidUtf8InBody) {
  std::string raw = "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + std::string(
                                                                                          "a\0b\xFF"
                                                                                          "c",
                                                                                          5);
  ParsedMessage m = ParseMessage(raw);
  EXPECT_EQ(m.text,
            "ab\xEF\xBF\xBD"
            "c");
  EXPECT_EQ(m.defects.ToString(), "nul-byte,invalid-utf8");
}

TEST(mail_mime, DeepNestingIsRefused) {
  std::string raw = "Subject: deep\r\nMIME-Version: 1.0\r\n";
  std::string tail;
  for (int i = 0; i < 5000; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: text/plain\r\n\r\ninnermost\r\n";
  ParsedMessage m = ParseMessage(raw);
  EXPECT_TRUE(m.defects.Has(Defect::kTooComplex));
  EXPECT_NE(m.text.find("innermost"), std::string::npos);
}

TEST(mail_mime, ModerateNestingIsParsed) {
  std::string raw = "Subject: nest\r\nMIME-Version: 1.0\r\n";
  for (int i = 0; i < 10; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: text/plain\r\n\r\ninnermost\r\n";
  ParsedMessage m = ParseMessage(raw);
  EXPECT_EQ(m.text, "innermost\n");
  EXPECT_EQ(m.defects.ToString(), "unterminated-multipart");
}

TEST(mail_mime, ManyPartsCapped) {
  std::string raw = "Content-Type: multipart/mixed; boundary=z\r\n\r\n";
  for (int i = 0; i < 50; ++i) raw += "--z\r\nContent-Type: text/plain\r\n\r\np\r\n";
  raw += "--z--\r\n";
  ParseLimits limits;
  limits.max_parts = 10;
  ParsedMessage m = ParseMessage(raw, limits);
  EXPECT_TRUE(m.defects.Has(Defect::kTooComplex));
  EXPECT_EQ(m.text, "p\np\np\np\np\np\np\np\np");  // 9 children + the container
}

TEST(mail_mime, PartHeaderCapsReachTheWalker) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nX-1: a\r\nX-2: b\r\n"
      "Content-Type: application/pdf\r\n\r\nbody text\r\n--z--\r\n";
  ParsedMessage m = ParseMessage(raw);
  EXPECT_EQ(m.attachments.size(), 1u);
  EXPECT_TRUE(m.defects.empty()) << m.defects.ToString();
  ParseLimits limits;
  limits.max_part_fields = 2;  // the part's Content-Type is the third field: not seen
  m = ParseMessage(raw, limits);
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_EQ(m.text, "body text");
  EXPECT_EQ(m.defects.ToString(), "header-too-long");
}

TEST(mail_mime, TruncatedAtMaxBytes) {
  std::string raw = "Subject: big\r\n\r\n" + std::string(1000, 'a');
  ParseLimits limits;
  limits.max_message_bytes = 100;
  ParsedMessage m = ParseMessage(raw, limits);
  EXPECT_TRUE(m.defects.Has(Defect::kTruncated));
  EXPECT_EQ(m.text, std::string(100 - 16, 'a'));
}

TEST(mail_mime, LargeAttachmentIsFast) {
  std::string b64;
  for (int i = 0; i < 200000; ++i)
    b64 += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xt\r\n";
  std::string raw =
      "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\n"
      "hi\r\n--q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
      "base64\r\n\r\n" +
      b64 + "--q--\r\n";
  auto start = std::chrono::steady_clock::now();
  ParsedMessage m = ParseMessage(raw);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].size, 200000u * 39);
  EXPECT_EQ(m.text, "hi");
  EXPECT_LT(ms, 2000);
}

}  // namespace
}  // namespace threadmill::mail
