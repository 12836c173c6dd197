// excerpt_test.cc - handlers/common/excerpt.h: untrusted text made safe for one log line.
#include "handlers/common/excerpt.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::handlers::common {
namespace {

TEST(HandlerExcerpt, CutsAndBlanksControlCharacters) {
  struct Case {
    std::string in;
    size_t max;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"", 5, ""},
      {"hello", 5, "hello"},
      {"hello!", 5, "hello..."},
      {"a\r\nb\tc\x7f", 10, "a  b c "},
      {std::string("x\0y", 3), 10, "x y"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(Excerpt(c.in, c.max), c.want);
  }
  EXPECT_EQ(Excerpt(std::string(400, 'z')).size(), 303u) << "300 bytes and \"...\" by default";
}

}  // namespace
}  // namespace threadmill::handlers::common
