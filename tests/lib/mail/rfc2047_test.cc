// rfc2047_test.cc - encoded-word decoding and encoding.
#include "mail/rfc2047.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mail/charset.h"
#include "mail/transfer_encoding.h"

namespace threadmill::mail {
namespace {

struct Case {
  const char* name;
  std::string in, want, defects;
};

TEST(mail_rfc2047, DecodeTable) {
  const std::vector<Case> cases = {
      {"plain", "Hello world", "Hello world", ""},
      {"b_utf8", "=?UTF-8?B?w6lsw6hWZQ==?=", "\xC3\xA9l\xC3\xA8Ve", ""},
      {"q_latin1", "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xC3\xA9 Pirard", ""},
      {"q_underscore", "=?utf-8?q?caf=C3=A9_au_lait?=", "caf\xC3\xA9 au lait", ""},
      {"adjacent_joined", "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab", ""},
      {"adjacent_folded", "=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab", ""},
      {"text_between_kept", "=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", "a x b", ""},
      {"split_multibyte_b", "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xE2\x82\xAC", ""},
      {"mixed_charsets", "=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=", "\xC3\xA9\xC3\xA9", ""},
      {"language_suffix", "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore", ""},
      {"cp1252_quotes_as_latin1", "=?iso-8859-1?Q?=93hi=94?=", "\xE2\x80\x9Chi\xE2\x80\x9D", ""},
      {"windows1251", "=?windows-1251?B?0/Dg?=", "\xD0\xA3\xD1\x80\xD0\xB0", ""},
      {"gb2312_as_gbk", "=?gb2312?B?xOO6ww==?=", "\xE4\xBD\xA0\xE5\xA5\xBD", ""},
      {"iso2022jp", "=?ISO-2022-JP?B?GyRCJEgbKEI=?=", "\xE3\x81\xA8", ""},
      {"unknown_charset", "=?x-unknown?Q?abc?=", "abc", ""},
      {"unknown_charset_8bit", "=?x-unknown?Q?=C3=A9?=", "\xC3\xA9", "unknown-charset"},
      {"bad_encoding_letter", "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=", "bad-encoded-word"},
      {"unterminated", "=?UTF-8?Q?abc", "=?UTF-8?Q?abc", "bad-encoded-word"},
      {"space_inside_left_as_is", "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?=", "bad-encoded-word"},
      {"glued_to_text", "Re:=?UTF-8?Q?=C3=A9?=", "Re:\xC3\xA9", ""},
      {"bad_base64", "=?UTF-8?B?w6!l?=", "\xC3\xA9", "bad-base64"},
      {"raw_latin1_text", "caf\xE9", "caf\xC3\xA9", "8bit"},
      {"raw_utf8_text", "caf\xC3\xA9", "caf\xC3\xA9", ""},
      {"nul_in_word", "=?UTF-8?Q?a=00b?=", "ab", "nul-byte"},
      {"empty_payload",
       "=?UTF-8?B?"
       "?=",
       "", ""},
  };
  for (const auto& c : cases) {
    Defects d;
    EXPECT_EQ(DecodeEncodedWords(c.in, &d), c.want) << c.name;
    EXPECT_EQ(d.ToString(), c.defects) << c.name;
  }
}

TEST(mail_rfc2047, EncodeAsciiUnchanged) {
  EXPECT_EQ(EncodeHeaderWord("Re: hello", 7), "Re: hello");
}

TEST(mail_rfc2047, EncodeShortQ) {
  EXPECT_EQ(EncodeHeaderWord("caf\xC3\xA9 au lait chaud", 7),
            "=?UTF-8?Q?caf=C3=A9_au_lait_chaud?=");
  // Short text with punctuation: base64 is shorter.
  EXPECT_EQ(EncodeHeaderWord("Re: caf\xC3\xA9", 7), "=?UTF-8?B?UmU6IGNhZsOp?=");
}

TEST(mail_rfc2047, EncodeMostlyNonAsciiUsesB) {
  std::string s = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82";  // "Привет"
  EXPECT_EQ(EncodeHeaderWord(s, 7), "=?UTF-8?B?" + Base64Encode(s) + "?=");
}

TEST(mail_rfc2047, EncodeLongFoldsAndRoundTrips) {
  std::string s;
  for (int i = 0; i < 40; ++i) s += "\xE2\x82\xAC word ";  // euro signs and ASCII
  std::string enc = EncodeHeaderWord(s, 7);
  size_t line_start = 0, first = true;
  while (line_start < enc.size()) {
    size_t end = enc.find("\r\n", line_start);
    if (end == std::string::npos) end = enc.size();
    size_t len = end - line_start + (first ? 9 : 0);  // "Subject: "
    EXPECT_LE(len, 78u);
    first = false;
    line_start = end + 2;
  }
  EXPECT_NE(enc.find("\r\n "), std::string::npos);
  // Unfolding the encoded text and decoding it gives the input back.
  std::string unfolded;
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc.compare(i, 2, "\r\n") == 0) {
      ++i;
      continue;
    }
    unfolded += enc[i];
  }
  EXPECT_EQ(DecodeEncodedWords(unfolded), s);
}

TEST(mail_rfc2047, EncodeNeverSplitsCharacters) {
  std::string s;
  for (int i = 0; i < 100; ++i) s += "\xF0\x9F\x98\x80";  // emoji, 4 bytes each
  std::string enc = EncodeHeaderWord(s, 30);
  size_t pos = 0;
  while ((pos = enc.find("=?UTF-8?", pos)) != std::string::npos) {
    size_t end = enc.find("?=", pos + 10);
    ASSERT_NE(end, std::string::npos);
    std::string one = enc.substr(pos, end + 2 - pos);
    EXPECT_LE(one.size(), 75u);
    Defects d;
    std::string dec = DecodeEncodedWords(one, &d);
    EXPECT_TRUE(IsValidUtf8(dec));
    EXPECT_TRUE(d.empty()) << one;
    pos = end;
  }
}

TEST(mail_rfc2047, EncodeEncodedLookingAsciiIsEncoded) {
  std::string enc = EncodeHeaderWord("=?x?", 7);
  EXPECT_EQ(DecodeEncodedWords(enc), "=?x?");
  EXPECT_NE(enc, "=?x?");
}

// Issue 8 item 14: labels glibc would take for UTF-8 without validating are no labels here,
// and whatever a word decodes to is valid UTF-8.
// A From display name or Subject is enough to reach the CP949 decoder with a bad end
// (charset_test.cc DecoderThatConsumesTheBadEndReadsNothingBeyondIt): it crashed the caller.
TEST(mail_rfc2047, Cp949WordWithABadEndDecodesWithinItsBytes) {
  Defects d;
  EXPECT_EQ(DecodeEncodedWords("=?euc-kr?B?LfWcnqLo?= x", &d),
            "-\xEF\xBF\xBD\xEC\x90\xBE\xEF\xBF\xBD x");
  EXPECT_EQ(d.ToString(), "invalid-utf8");
}

TEST(mail_rfc2047, HostileCharsetLabelsGiveValidUtf8) {
  struct Case {
    const char* name;
    std::string in, want, defects;
  };
  const std::vector<Case> cases = {
      {"semicolon_label", "=?utf-8;?B?9JCAgA==?=",
       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", "invalid-utf8,unknown-charset"},
      {"ignore_suffix", "=?UTF-8//IGNORE?Q?=ED=A0=80?=", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
       "invalid-utf8,unknown-charset"},
      {"overlong_utf8", "=?utf-8?Q?=C0=AF?=", "\xEF\xBF\xBD\xEF\xBF\xBD", "invalid-utf8"},
      {"plain_label_still_works", "=?utf-8?Q?caf=C3=A9?=", "caf\xC3\xA9", ""},
  };
  for (const auto& c : cases) {
    Defects d;
    std::string got = DecodeEncodedWords(c.in, &d);
    EXPECT_EQ(got, c.want) << c.name;
    EXPECT_TRUE(IsValidUtf8(got)) << c.name;
    EXPECT_EQ(d.ToString(), c.defects) << c.name;
  }
}

}  // namespace
}  // namespace threadmill::mail
