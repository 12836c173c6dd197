// rfc2231_test.cc - MIME parameter parsing.
#include "mail/rfc2231.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

struct Case {
  const char* name;
  std::string in;
  std::string value;
  std::vector<std::pair<std::string, std::string>> params;
  std::string defects;
};

TEST(mail_rfc2231, ParseParametersTable) {
  const std::vector<Case> cases = {
      {"simple", "text/plain; charset=us-ascii", "text/plain", {{"charset", "us-ascii"}}, ""},
      {"case_and_space",
       "Text/HTML ;  CharSet = \"UTF-8\" ",
       "text/html",
       {{"charset", "UTF-8"}},
       ""},
      {"no_params", "multipart/mixed", "multipart/mixed", {}, ""},
      {"boundary_quoted",
       "multipart/alternative;\r\n\tboundary=\"----=_Part_1;x\"",
       "multipart/alternative",
       {{"boundary", "----=_Part_1;x"}},
       ""},
      {"comment",
       "text/plain (plain text); charset=(cs) utf-8",
       "text/plain",
       {{"charset", "utf-8"}},
       ""},
      {"quoted_pair",
       "attachment; filename=\"a \\\"b\\\".txt\"",
       "attachment",
       {{"filename", "a \"b\".txt"}},
       ""},
      {"rfc2231_charset",
       "attachment; filename*=utf-8''%E2%82%AC%20rates.pdf",
       "attachment",
       {{"filename", "\xE2\x82\xAC rates.pdf"}},
       ""},
      {"rfc2231_language",
       "attachment; filename*=iso-8859-1'fr'caf%E9.txt",
       "attachment",
       {{"filename", "caf\xC3\xA9.txt"}},
       ""},
      {"continuations",
       "message/external-body; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub\"",
       "message/external-body",
       {{"url", "ftp://cs.utk.edu/pub"}},
       ""},
      {"continuations_encoded",
       "attachment; filename*0*=UTF-8''%C3%A9t%C3%A9; filename*1*=%20long; filename*2=\".doc\"",
       "attachment",
       {{"filename", "\xC3\xA9t\xC3\xA9 long.doc"}},
       ""},
      {"continuations_out_of_order", "a; n*1=b; n*0=a", "a", {{"n", "ab"}}, ""},
      {"extended_wins",
       "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''real.pdf",
       "attachment",
       {{"filename", "real.pdf"}},
       ""},
      {"rfc2047_in_quotes",
       "attachment; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"",
       "attachment",
       {{"filename", "\xC3\xA9t\xC3\xA9.pdf"}},
       ""},
      {"rfc2047_outlook_q",
       "application/pdf; name=\"=?iso-8859-1?Q?R=E9sum=E9.pdf?=\"",
       "application/pdf",
       {{"name", "R\xC3\xA9sum\xC3\xA9.pdf"}},
       ""},
      {"unquoted_with_spaces",
       "attachment; filename=my report.pdf",
       "attachment",
       {{"filename", "my report.pdf"}},
       ""},
      {"raw_utf8",
       "attachment; filename=\"\xC3\xA9t\xC3\xA9.txt\"",
       "attachment",
       {{"filename", "\xC3\xA9t\xC3\xA9.txt"}},
       ""},
      {"raw_latin1",
       "attachment; filename=\"\xE9t\xE9.txt\"",
       "attachment",
       {{"filename", "\xC3\xA9t\xC3\xA9.txt"}},
       "8bit"},
      {"missing_equals",
       "text/plain; charset; format=flowed",
       "text/plain",
       {{"format", "flowed"}},
       "bad-parameter"},
      {"trailing_semicolon",
       "text/plain; charset=utf-8;",
       "text/plain",
       {{"charset", "utf-8"}},
       ""},
      {"unterminated_quote",
       "text/plain; charset=\"utf-8",
       "text/plain",
       {{"charset", "utf-8"}},
       "unterminated"},
      {"duplicate_first_wins",
       "text/plain; charset=a; charset=b",
       "text/plain",
       {{"charset", "a"}},
       ""},
      {"bad_section", "a; n*x=1", "a", {{"n", "1"}}, "bad-parameter"},
      {"missing_quote_marks_2231",
       "attachment; filename*=nocharset.txt",
       "attachment",
       {{"filename", "nocharset.txt"}},
       "bad-parameter"},
      {"empty", "", "", {}, ""},
  };
  for (const auto& c : cases) {
    ParameterizedValue got = ParseParameters(c.in);
    EXPECT_EQ(got.value, c.value) << c.name;
    EXPECT_EQ(got.params, c.params) << c.name;
    EXPECT_EQ(got.defects.ToString(), c.defects) << c.name;
  }
}

TEST(mail_rfc2231, GetAndHas) {
  ParameterizedValue v = ParseParameters("text/plain; Charset=UTF-8");
  EXPECT_EQ(v.Get("charset"), "UTF-8");
  EXPECT_EQ(v.Get("CHARSET"), "UTF-8");
  EXPECT_TRUE(v.Has("charset"));
  EXPECT_FALSE(v.Has("format"));
  EXPECT_EQ(v.Get("format"), "");
}

TEST(mail_rfc2231, ManySectionsAreBounded) {
  std::string v = "attachment";
  for (int i = 0; i < 2000; ++i) v += "; p" + std::to_string(i) + "=x";
  ParameterizedValue got = ParseParameters(v);
  EXPECT_EQ(got.params.size(), 64u);
  EXPECT_TRUE(got.defects.Has(Defect::kTruncated));
}

// Issue 8 item 12: 9.8 MB of ';' took 58.6 s (a search from every ';' to the end).
TEST(mail_rfc2231, HostileValuesAreLinearAndCapped) {
  struct Case {
    const char* name;
    std::string in;
    std::string defects;
  };
  const std::vector<Case> cases = {
      {"semicolons", "text/plain" + std::string(9800000, ';'), "truncated,header-too-long"},
      {"semicolons_in_cap", "text/plain" + std::string(60000, ';'), "truncated"},
      {"no_equals",
       "text/plain" +
           [] {
             std::string s;
             while (s.size() < 60000) s += "; abc";
             return s;
           }(),
       "truncated,bad-parameter"},
      {"equals_only", "text/plain;" + std::string(9800000, '='), "header-too-long,bad-parameter"},
      {"open_quotes", "text/plain; a=\"" + std::string(9800000, '\"'), "header-too-long"},
  };
  for (const auto& c : cases) {
    auto start = std::chrono::steady_clock::now();
    ParameterizedValue got = ParseParameters(c.in);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(s, 10.0) << c.name;  // about 10 ms here; the quadratic parser took a minute
    EXPECT_EQ(got.value, "text/plain") << c.name;
    EXPECT_EQ(got.defects.ToString(), c.defects) << c.name;
    EXPECT_LE(got.params.size(), kMaxMimeParameters) << c.name;
  }
}

TEST(mail_rfc2231, PiecesPastTheCapAreNotRead) {
  // 1024 empty pieces are read, the parameter after them is not.
  std::string v = "text/plain" + std::string(1024, ';') + "charset=koi8-r";
  EXPECT_EQ(ParseParameters(v).Get("charset"), "koi8-r");
  v = "text/plain" + std::string(1025, ';') + "charset=koi8-r";
  ParameterizedValue got = ParseParameters(v);
  EXPECT_EQ(got.Get("charset"), "");
  EXPECT_EQ(got.defects.ToString(), "truncated");
}

}  // namespace
}  // namespace threadmill::mail
