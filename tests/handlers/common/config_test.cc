// config_test.cc - handlers/common/config.h: the [handler.NAME] readers, table-driven.
#include "handlers/common/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::handlers::common {
namespace {

using nlohmann::json;

TEST(HandlerConfig, ParseConfig) {
  struct Case {
    std::string text;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"", true},     {"{}", true},        {"{\"a\":1}", true},
      {"[1]", false}, {"not json", false}, {"\"x\"", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::string error;
    auto config = ParseConfig(c.text, &error);
    EXPECT_EQ(config.has_value(), c.ok);
    EXPECT_EQ(error.empty(), c.ok);
  }
}

TEST(HandlerConfig, ConfigInt) {
  struct Case {
    json config;
    std::optional<int64_t> want;
  };
  const std::vector<Case> cases = {
      {json::object(), 7},
      {{{"n", nullptr}}, 7},
      {{{"n", 5}}, 5},
      {{{"n", "12"}}, 12},
      {{{"n", 0}}, std::nullopt},    // below min
      {{{"n", 101}}, std::nullopt},  // above max
      {{{"n", "12s"}}, std::nullopt},
      {{{"n", 1.5}}, std::nullopt},
      {{{"n", true}}, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config.dump());
    std::string error;
    EXPECT_EQ(ConfigInt(c.config, "n", 7, 1, 100, &error), c.want);
    EXPECT_EQ(error, c.want ? "" : "n: expected an integer from 1 to 100");
  }
}

TEST(HandlerConfig, ConfigBoolAndString) {
  std::string error;
  EXPECT_EQ(ConfigBool(json::object(), "b", true, &error), true);
  EXPECT_EQ(ConfigBool({{"b", false}}, "b", true, &error), false);
  EXPECT_EQ(ConfigBool({{"b", "true"}}, "b", false, &error), true);
  EXPECT_EQ(ConfigBool({{"b", "yes"}}, "b", false, &error), std::nullopt);
  EXPECT_EQ(error, "b: expected true or false");
  error.clear();
  EXPECT_EQ(ConfigString(json::object(), "s", "dflt", &error), "dflt");
  EXPECT_EQ(ConfigString({{"s", "v"}}, "s", "dflt", &error), "v");
  EXPECT_EQ(ConfigString({{"s", 3}}, "s", "dflt", &error), std::nullopt);
  EXPECT_EQ(error, "s: expected a string");
}

TEST(HandlerConfig, ConfigStringList) {
  using List = std::vector<std::string>;
  struct Case {
    json config;
    std::optional<List> want;
  };
  const std::vector<Case> cases = {
      {json::object(), List{}},
      {{{"l", "a"}}, List{"a"}},
      {{{"l", {"a", "b"}}}, List{"a", "b"}},
      {{{"l", {"a", 1}}}, std::nullopt},
      {{{"l", 1}}, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config.dump());
    std::string error;
    EXPECT_EQ(ConfigStringList(c.config, "l", &error), c.want);
    EXPECT_EQ(error.empty(), c.want.has_value());
  }
}

}  // namespace
}  // namespace threadmill::handlers::common
