#include "log/kv_line.h"

#include <gtest/gtest.h>

namespace threadmill::log {
namespace {

TEST(KvLineTest, FormatsAndQuotes) {
  struct Case {
    std::string value;
    std::string want;
  } cases[] = {
      {"plain", "k=plain"},
      {"", "k="},
      {"two words", "k=\"two words\""},
      {"quote\"back\\slash", "k=\"quote\\\"back\\\\slash\""},
      {std::string("nul\0byte", 8), "k=\"nul\\x00byte\""},
      {"line\r\nbreak", "k=\"line\\x0d\\x0abreak\""},
      {"caf\xc3\xa9", "k=\"caf\\xc3\\xa9\""},
      {"<id@example.com>", "k=<id@example.com>"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(KvLine().Add("k", c.value).str(), c.want);
  }
}

TEST(KvLineTest, PrefixOrderAndBrackets) {
  KvLine line("4XyZ1C2: ");
  line.Add("direction", "inbound")
      .AddBracketed("from", "", true)
      .AddBracketed("parent", "", false)
      .AddBracketed("msgid", "a@b", false)
      .Add("refs", int64_t{3});
  EXPECT_EQ(line.str(), "4XyZ1C2: direction=inbound from=<> parent= msgid=<a@b> refs=3");
}

}  // namespace
}  // namespace threadmill::log
