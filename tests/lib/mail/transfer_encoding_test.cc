// transfer_encoding_test.cc - base64 and quoted-printable.
#include "mail/transfer_encoding.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

TEST(mail_transfer_encoding, Base64Table) {
  struct Case {
    std::string in, want, defects;
  };
  const std::vector<Case> cases = {
      {"aGVsbG8=", "hello", ""},
      {"aGVs\r\nbG8=\r\n", "hello", ""},
      {"aGVsbG8", "hello", ""},  // missing padding
      {"aGVsbA==", "hell", ""},
      {"aGV*sbG8=", "hello", "bad-base64"},
      {"aGk=aGk=", "hihi", "bad-base64"},  // concatenated blocks
      {"a", "", "bad-base64"},
      {"", "", ""},
  };
  for (const auto& c : cases) {
    Defects d;
    EXPECT_EQ(Base64Decode(c.in, &d), c.want) << c.in;
    EXPECT_EQ(d.ToString(), c.defects) << c.in;
  }
}

TEST(mail_transfer_encoding, Base64RoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n < 10; ++n) {
    std::string s = all.substr(0, n) + all;
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("hi"), "aGk=");
  EXPECT_EQ(Base64Encode("h"), "aA==");
}

TEST(mail_transfer_encoding, QuotedPrintableTable) {
  struct Case {
    std::string in, want, defects;
    bool q = false;
  };
  const std::vector<Case> cases = {
      {"caf=E9", "caf\xE9", ""},
      {"caf=e9", "caf\xE9", ""},
      {"soft=\r\nbreak", "softbreak", ""},
      {"soft=\nbreak", "softbreak", ""},
      {"soft=  \r\nbreak", "softbreak", ""},
      {"line1\r\nline2", "line1\r\nline2", ""},
      {"bad=ZZ", "bad=ZZ", "bad-quoted-printable"},
      {"end=", "end", ""},
      {"a_b", "a_b", ""},
      {"a_b=20c", "a b c", "", true},
  };
  for (const auto& c : cases) {
    Defects d;
    EXPECT_EQ(QuotedPrintableDecode(c.in, c.q, &d), c.want) << c.in;
    EXPECT_EQ(d.ToString(), c.defects) << c.in;
  }
}

}  // namespace
}  // namespace threadmill::mail
