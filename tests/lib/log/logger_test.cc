// Configure with a file target: lines reach the file; a link planted where others can change it
// and a hard link are refused before anything is written (the file is opened as root at
// start-up). Runs without root (the test's uid stands in for root's).
#include "log/logger.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/temp_dir.h"

namespace threadmill::log {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LoggerFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(chmod(dir_.str().c_str(), 0755), 0); }
  void TearDown() override { Configure({"stderr", "mail", "info"}); }
  std::string Path(const std::string& rel) { return dir_.str() + "/" + rel; }
  // "" when configured, else the exception text.
  std::string ConfigureFile(const std::string& path) {
    try {
      Configure({"file:" + path, "mail", "info"});
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  testing::TempDir dir_;
};

TEST_F(LoggerFileTest, WritesToTheFile) {
  ASSERT_EQ(ConfigureFile(Path("logs/threadmill.log")), "");  // the directory is created
  Get().info("decision line {}", 1);
  EXPECT_NE(Read(Path("logs/threadmill.log")).find("decision line 1"), std::string::npos);
  ASSERT_EQ(ConfigureFile(Path("logs/threadmill.log")), "");  // reload appends
  Get().info("decision line {}", 2);
  std::string text = Read(Path("logs/threadmill.log"));
  EXPECT_NE(text.find("decision line 1"), std::string::npos);
  EXPECT_NE(text.find("decision line 2"), std::string::npos);
}

TEST_F(LoggerFileTest, RefusesPlantedLinks) {
  std::ofstream(Path("victim")) << "precious\n";
  std::string shared = Path("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0777), 0);
  ASSERT_EQ(symlink(Path("victim").c_str(), (shared + "/threadmill.log").c_str()), 0);
  EXPECT_NE(ConfigureFile(shared + "/threadmill.log").find("that others can change"),
            std::string::npos);
  ASSERT_EQ(link(Path("victim").c_str(), Path("hard.log").c_str()), 0);
  EXPECT_NE(ConfigureFile(Path("hard.log")).find("is not a regular file with a single link"),
            std::string::npos);
  Get().info("must not reach the victim");
  EXPECT_EQ(Read(Path("victim")), "precious\n");
}

}  // namespace
}  // namespace threadmill::log
