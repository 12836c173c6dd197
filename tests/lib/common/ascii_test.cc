// ASCII helpers: only A-Z change case, UTF-8 and other bytes are left alone.
#include "common/ascii.h"

#include <gtest/gtest.h>

namespace threadmill::ascii {
namespace {

TEST(AsciiTest, ToLower) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"", ""},
      {"Example.ORG", "example.org"},
      {"@[]`{", "@[]`{"},  // the bytes around A-Z
      {"\xC3\x84rger", "\xC3\x84rger"},
      {std::string("A\0B", 3), std::string("a\0b", 3)},
  };
  for (const auto& c : cases) EXPECT_EQ(ToLower(c.in), c.want) << c.in;
  EXPECT_EQ(ToLower('Z'), 'z');
  EXPECT_EQ(ToLower('['), '[');
}

TEST(AsciiTest, EqualsIgnoreCase) {
  struct Case {
    std::string_view a, b;
    bool want;
  } cases[] = {
      {"", "", true},
      {"List-Id", "list-ID", true},
      {"List-Id", "List-I", false},
      {"a", "A", true},
      {"@", "`", false},
      {"\xC3\x84", "\xC3\xA4", false},
      {"Subject", "Subjekt", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(ascii::EqualsIgnoreCase(c.a, c.b), c.want) << c.a << " " << c.b;
  EXPECT_TRUE(StartsWithIgnoreCase("IPv6:::1", "ipv6:"));
  EXPECT_FALSE(StartsWithIgnoreCase("IPv", "ipv6:"));
}

TEST(AsciiTest, Trim) {
  struct Case {
    std::string_view in, want;
  } cases[] = {
      {"", ""}, {" \t\r\n", ""}, {"  bulk \r\n", "bulk"}, {"a b", "a b"}, {"\vx\v", "\vx\v"},
  };
  for (const auto& c : cases) EXPECT_EQ(Trim(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace threadmill::ascii
