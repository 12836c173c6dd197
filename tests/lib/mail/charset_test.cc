// charset_test.cc - conversion to UTF-8 and sanitizing.
#include "mail/charset.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

struct Case {
  const char* name;
  std::string bytes, charset, want, defects;
};

TEST(mail_charset, ToUtf8Table) {
  const std::vector<Case> cases = {
      {"ascii", "hello", "us-ascii", "hello", ""},
      {"latin1", "caf\xE9", "iso-8859-1", "caf\xC3\xA9", ""},
      {"latin1_alias", "caf\xE9", "Latin1", "caf\xC3\xA9", ""},
      {"latin1_is_cp1252", "\x93quoted\x94 \x80", "ISO-8859-1",
       "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC", ""},
      {"quoted_label", "caf\xE9", "\"iso-8859-1\"", "caf\xC3\xA9", ""},
      {"ascii_label_8bit", "caf\xE9", "us-ascii", "caf\xC3\xA9", ""},
      {"utf8", "caf\xC3\xA9", "utf-8", "caf\xC3\xA9", ""},
      {"utf8_alias", "caf\xC3\xA9", "UTF8", "caf\xC3\xA9", ""},
      {"utf8_invalid",
       "a\xFF"
       "b",
       "utf-8",
       "a\xEF\xBF\xBD"
       "b",
       "invalid-utf8"},
      {"empty_label_utf8", "\xC3\xA9", "", "\xC3\xA9", ""},
      {"koi8r", "\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r",
       "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", ""},
      {"shift_jis", "\x82\xA0", "Shift_JIS", "\xE3\x81\x82", ""},
      {"iso8859_15", "\xA4", "iso-8859-15", "\xE2\x82\xAC", ""},
      {"utf16le_bom",
       std::string("\xFF\xFE"
                   "a\0",
                   4),
       "utf-16", "a", ""},
      {"unknown", "caf\xC3\xA9", "x-bogus-charset", "caf\xC3\xA9", "unknown-charset"},
      {"unknown_invalid", "caf\xE9", "x-bogus", "caf\xEF\xBF\xBD", "invalid-utf8,unknown-charset"},
      {"nul_dropped", std::string("a\0b", 3), "utf-8", "ab", "nul-byte"},
      {"nul_dropped_latin1", std::string("a\0\xE9", 3), "iso-8859-1", "a\xC3\xA9", "nul-byte"},
      {"sjis_truncated", "a\x82", "shift_jis", "a\xEF\xBF\xBD", "invalid-utf8"},
  };
  for (const auto& c : cases) {
    Defects d;
    EXPECT_EQ(ToUtf8(c.bytes, c.charset, &d), c.want) << c.name;
    EXPECT_EQ(d.ToString(), c.defects) << c.name;
  }
}

TEST(mail_charset, SanitizeTable) {
  const std::vector<Case> cases = {
      {"valid", "\xF0\x9F\x98\x80 ok", "", "\xF0\x9F\x98\x80 ok", ""},
      {"overlong", "\xC0\xAF", "", "\xEF\xBF\xBD\xEF\xBF\xBD", "invalid-utf8"},
      {"surrogate", "\xED\xA0\x80", "", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", "invalid-utf8"},
      {"truncated_seq", "a\xE2\x82", "", "a\xEF\xBF\xBD", "invalid-utf8"},
      {"above_max", "\xF4\x90\x80\x80", "", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
       "invalid-utf8"},
      {"lone_continuation", "\x80x", "", "\xEF\xBF\xBDx", "invalid-utf8"},
      {"nul", std::string("\0x", 2), "", "x", "nul-byte"},
  };
  for (const auto& c : cases) {
    Defects d;
    EXPECT_EQ(SanitizeUtf8(c.bytes, &d), c.want) << c.name;
    EXPECT_EQ(d.ToString(), c.defects) << c.name;
    EXPECT_TRUE(IsValidUtf8(SanitizeUtf8(c.bytes))) << c.name;
  }
}

TEST(mail_charset, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xFE"));
}

TEST(mail_charset, Unlabelled8bit) {
  Defects d;
  EXPECT_EQ(Unlabelled8bitToUtf8("J\xC3\xB6rg", &d), "J\xC3\xB6rg");
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(Unlabelled8bitToUtf8("J\xF6rg", &d), "J\xC3\xB6rg");
  EXPECT_EQ(d.ToString(), "8bit");
}

TEST(mail_charset, CanonicalNames) {
  EXPECT_EQ(CanonicalCharset("LATIN1"), "WINDOWS-1252");
  EXPECT_EQ(CanonicalCharset(" utf8 "), "UTF-8");
  EXPECT_EQ(CanonicalCharset("iso-8859-2"), "ISO-8859-2");
  EXPECT_EQ(CanonicalCharset("ks_c_5601-1987"), "CP949");
  EXPECT_EQ(CanonicalCharset("ANSI_X3.4-1968"), "WINDOWS-1252");
  EXPECT_EQ(CanonicalCharset("\"\""), "UTF-8");
  // Not labels (glibc would strip or interpret the extra characters).
  for (const char* bad :
       {"utf-8;", "UTF-8//IGNORE", "utf-8//translit", "UTF-8,IGNORE", "ISO-10646/UTF8/", "utf 8",
        "utf-8\n", "caf\xC3\xA9", "x-a-very-long-label-that-no-charset-has-ever-had"}) {
    EXPECT_EQ(CanonicalCharset(bad), "") << bad;
  }
}

// Issue 8 item 14: every ToUtf8 result is valid UTF-8, whatever the label says.
TEST(mail_charset, ResultIsAlwaysValidUtf8) {
  const std::string hostile[] = {
      "\xF4\x90\x80\x80",                  // above U+10FFFF
      "\xF8\x88\x80\x80\x80",              // 5-byte form
      "\xED\xA0\x80\xED\xB0\x80",          // surrogate pair in UTF-8 (CESU)
      "\xC0\xAF\xE0\x80\xAF",              // overlongs
      std::string("\x00\xD8\x00\x00", 4),  // lone surrogate in UTF-16BE
      "\xFF\xFE\x00\xD8",                  // lone surrogate in UTF-16LE with BOM
      "+2ADYAA-",                          // UTF-7 lone surrogate
  };
  const char* labels[] = {
      "utf-8;", "UTF-8//IGNORE", "utf-8//translit", "ISO-10646/UTF8/", "ISO-IR-193", "UTF-16BE",
      "utf-16", "UTF-7",         "UCS-2",           "UTF-32",          "utf8",       "x-unknown"};
  for (const auto& bytes : hostile) {
    for (const char* label : labels) {
      Defects d;
      std::string got = ToUtf8(bytes, label, &d);
      EXPECT_TRUE(IsValidUtf8(got)) << label;
      EXPECT_EQ(got.find('\0'), std::string::npos) << label;
    }
  }
  Defects d;
  EXPECT_EQ(ToUtf8("a\xF4\x90\x80\x80", "utf-8;", &d),
            "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(d.ToString(), "invalid-utf8,unknown-charset");
}

// glibc's CP949 decoder (ks_c_5601-1987, euc-kr) consumes a bad sequence at the end of the
// input and still fails: the converter must not skip a byte that is not there (it did, and
// read past the input; found by fuzz.run.charset, the input is in its corpus).
TEST(mail_charset, DecoderThatConsumesTheBadEndReadsNothingBeyondIt) {
  const std::string bytes = "-\xF5\x9C\x9E\xA2\xE8";
  for (const char* label : {"ks_c_5601-1987", "euc-kr"}) {
    Defects d;
    // '-', U+FFFD for 0xF5, U+C43E for 0x9C 0x9E, U+FFFD for the rest.
    EXPECT_EQ(ToUtf8(bytes, label, &d), "-\xEF\xBF\xBD\xEC\x90\xBE\xEF\xBF\xBD") << label;
    EXPECT_EQ(d.ToString(), "invalid-utf8") << label;
  }
}

TEST(mail_charset, LargeInputIsFast) {
  std::string big(8 * 1024 * 1024, '\xE9');
  std::string out = ToUtf8(big, "iso-8859-1");
  EXPECT_EQ(out.size(), big.size() * 2);
}

}  // namespace
}  // namespace threadmill::mail
