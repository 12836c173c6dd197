// base64_test.cc - handlers/common/base64: RFC 4648 test vectors both ways, refusals.
#include "handlers/common/base64.h"

#include <gtest/gtest.h>

namespace threadmill::handlers::common {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
      {std::string("\x00\xff\xfe", 3), "AP/+"},
  };
  for (const auto& [bytes, text] : cases) {
    EXPECT_EQ(Base64Encode(bytes), text) << text;
    auto back = Base64Decode(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, bytes) << text;
  }
}

TEST(Base64, RefusesWhatIsNotCanonicalBase64) {
  for (const char* bad :
       {"Zg", "Zg=", "Z===", "Zm9v\n", "Zm-v", "Zm_v", "Zh==", "Zm9=", "====", "Zg==Zg=="}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace threadmill::handlers::common
