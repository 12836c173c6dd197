// The loader against real fixture modules (tests/handlers/fixtures), copied into
// temporary handler directories. Runs as root (ownership checks need chown).
#include "runtime/loader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/runtime/runtime_test_util.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "ownership checks need root";
    chmod(dir_.str().c_str(), 0755);
  }
  std::string Refusal(const std::string& path) {
    auto got = LoadModule(path);
    return got.ok() ? "" : got.error().message;
  }
  testing::TempDir dir_;
};

TEST_F(LoaderTest, LoadsGoodModule) {
  auto m = LoadModule(testing::InstallFixture(dir_.str(), "good"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->name(), "testgood");
  EXPECT_NE((*m)->on_heartbeat(), nullptr);
  EXPECT_NE((*m)->fini(), nullptr);
}

TEST_F(LoaderTest, RefusesEachBrokenFixture) {
  EXPECT_NE(Refusal(testing::InstallFixture(dir_.str(), "badmajor"))
                .find("built for ABI 2.0, threadmill speaks ABI major 1"),
            std::string::npos);
  EXPECT_NE(Refusal(testing::InstallFixture(dir_.str(), "nosym"))
                .find("missing entry symbol threadmill_handler_v1"),
            std::string::npos);
  std::string writable = testing::InstallFixture(dir_.str(), "good", "writable.so");
  chmod(writable.c_str(), 0664);
  EXPECT_NE(Refusal(writable).find("writable by group or others (mode 0664)"), std::string::npos);
  std::string foreign = testing::InstallFixture(dir_.str(), "good", "foreign.so");
  ASSERT_EQ(chown(foreign.c_str(), 65534, 65534), 0);
  EXPECT_NE(Refusal(foreign).find("not owned by root (owner uid 65534)"), std::string::npos);
  // A link into a directory others may change is refused; so are foreign and dangling links.
  std::string open_dir = dir_.str() + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  std::string exposed = testing::InstallFixture(open_dir, "good");
  std::string link = dir_.str() + "/link.so";
  ASSERT_EQ(symlink(exposed.c_str(), link.c_str()), 0);
  EXPECT_NE(Refusal(link).find("others could change"), std::string::npos) << Refusal(link);
  std::string foreign_link = dir_.str() + "/foreign-link.so";
  ASSERT_EQ(symlink(testing::FixturePath("good").c_str(), foreign_link.c_str()), 0);
  ASSERT_EQ(lchown(foreign_link.c_str(), 65534, 65534), 0);
  EXPECT_NE(Refusal(foreign_link).find("symbolic link not owned by root"), std::string::npos);
  std::string dangling = dir_.str() + "/dangling.so";
  ASSERT_EQ(symlink((dir_.str() + "/nowhere.so").c_str(), dangling.c_str()), 0);
  EXPECT_NE(Refusal(dangling).find("dangling symbolic link"), std::string::npos);
  std::string junk = dir_.str() + "/junk.so";
  std::ofstream(junk) << "not an ELF file";
  chmod(junk.c_str(), 0644);
  EXPECT_NE(Refusal(junk).find("dlopen failed"), std::string::npos);
}

// How an administrator enables a packaged handler: a root-owned link to the packaged file.
TEST_F(LoaderTest, FollowsSafeSymbolicLinks) {
  std::string packaged_dir = dir_.str() + "/packaged";
  ASSERT_EQ(mkdir(packaged_dir.c_str(), 0755), 0);
  std::string packaged = testing::InstallFixture(packaged_dir, "good");
  std::string link = dir_.str() + "/enabled.so";
  ASSERT_EQ(symlink(packaged.c_str(), link.c_str()), 0);
  auto m = LoadModule(link);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->name(), "testgood");
}

TEST_F(LoaderTest, AcceptsNewerMinor) {
  auto m = LoadModule(testing::InstallFixture(dir_.str(), "newminor"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->minor(), 7u);
  EXPECT_EQ((*m)->on_heartbeat(), nullptr);
}

TEST_F(LoaderTest, DirectoryScanSkipsRefusedAndDuplicates) {
  testing::InstallFixture(dir_.str(), "good", "a_good.so");
  testing::InstallFixture(dir_.str(), "good", "b_duplicate.so");
  testing::InstallFixture(dir_.str(), "badmajor");
  testing::InstallFixture(dir_.str(), "nosym");
  testing::InstallFixture(dir_.str(), "crash");
  testing::InstallFixture(dir_.str(), "cpp");
  std::ofstream(dir_.str() + "/README") << "not a module";
  ModuleSet set = LoadModules(dir_.str());
  EXPECT_EQ(set.Names(), (std::vector<std::string>{"testgood", "testcpp", "crasher"}));
  EXPECT_EQ(set.Find("testgood")->path(), dir_.str() + "/a_good.so");
}

TEST_F(LoaderTest, WorldWritableDirectoryRefusesAll) {
  testing::InstallFixture(dir_.str(), "good");
  chmod(dir_.str().c_str(), 0777);
  EXPECT_TRUE(LoadModules(dir_.str()).modules.empty());
}

}  // namespace
}  // namespace threadmill::runtime
