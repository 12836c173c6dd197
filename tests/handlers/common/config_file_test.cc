// config_file_test.cc - handlers/common/config_file.h: a file named by a config key.
#include "handlers/common/config_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace threadmill::handlers::common {
namespace {

TEST(HandlerConfigFile, ReadsBytesOrNamesTheKey) {
  char dir[] = "/tmp/threadmill-cfgfile-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/f";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string("a\0b\n", 4);
  }
  std::string error;
  EXPECT_EQ(ReadConfigFile("template_file", path, &error), std::string("a\0b\n", 4));
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(ReadConfigFile("secret_file", std::string(dir) + "/missing", &error), std::nullopt);
  EXPECT_EQ(error, "secret_file: cannot read " + std::string(dir) + "/missing");
  EXPECT_EQ(ReadConfigFile("secret_file", dir, &error), std::nullopt) << "a directory";
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace threadmill::handlers::common
