// Unit tests of auth/tag_list.h: a DKIM tag-list split the way libopendkim splits it.
#include "auth/tag_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::auth {
namespace {

std::vector<std::string> Pieces(std::string_view list) {
  std::vector<std::string> out;
  for (const RawTag& t : SplitTags(list)) {
    out.push_back(std::string(t.name) + "|" + std::string(t.value));
  }
  return out;
}

TEST(auth_TagList, RawPiecesInOrder) {
  EXPECT_EQ(Pieces("v=1; a=rsa-sha256;\r\n\td=example.com; b=ab==;"),
            (std::vector<std::string>{"v|1", " a|rsa-sha256", "\r\n\td|example.com", " b|ab=="}));
}

TEST(auth_TagList, PiecesWithoutEqualsSkippedAndRepeatsKept) {
  EXPECT_EQ(Pieces(";;junk; h=a; h=b;="), (std::vector<std::string>{" h|a", " h|b", "|"}));
  EXPECT_TRUE(SplitTags("").empty());
}

TEST(auth_TagList, TrimFwsOnlyFws) {
  EXPECT_EQ(TrimFws(" \t\r\n d \r\n"), "d");
  EXPECT_EQ(TrimFws("\v d\f"), "\v d\f");  // not FWS (libopendkim's isspace is another matter)
  EXPECT_EQ(TrimFws(""), "");
}

}  // namespace
}  // namespace threadmill::auth
