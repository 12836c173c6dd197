// ChownTree hands a tree to another user through descriptors: links are neither followed nor
// changed, hard links to files it does not own are left alone and reported. Needs root (the
// whole point is changing owners); the refusal of an unsafe top runs without root.
#include "common/chown_tree.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "support/temp_dir.h"

namespace threadmill {
namespace {

constexpr uid_t kUser = 65534;
constexpr gid_t kGroup = 65534;

uid_t Owner(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

class ChownTreeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(chmod(dir_.str().c_str(), 0755), 0); }
  std::string Path(const std::string& rel) const { return dir_.str() + "/" + rel; }
  testing::TempDir dir_;
};

TEST_F(ChownTreeTest, ChangesTheTreeButNothingOutsideIt) {
  if (geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  std::string outside = Path("outside");
  std::string store = Path("store");
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(store.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((store + "/spool").c_str(), 0750), 0);
  std::ofstream(outside + "/secret") << "root's";
  std::ofstream(outside + "/linked") << "root's too";
  std::ofstream(store + "/data.mdb") << "db";
  std::ofstream(store + "/spool/job") << "job";
  ASSERT_EQ(mkfifo((store + "/spool/wake").c_str(), 0660), 0);
  // What the service user could plant: links to root's files and directories, a hard link.
  ASSERT_EQ(symlink((outside + "/secret").c_str(), (store + "/spool/evil").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), (store + "/evildir").c_str()), 0);
  ASSERT_EQ(link((outside + "/linked").c_str(), (store + "/spool/hard").c_str()), 0);

  auto report = ChownTree(store, kUser, kGroup);
  ASSERT_TRUE(report.ok()) << report.error().message;
  for (const char* changed : {"", "/spool", "/data.mdb", "/spool/job", "/spool/wake"}) {
    EXPECT_EQ(Owner(store + changed), kUser) << changed;
  }
  EXPECT_EQ(report->changed, 5u);
  for (const char* kept : {"/secret", "/linked", ""}) EXPECT_EQ(Owner(outside + kept), 0u) << kept;
  EXPECT_EQ(Owner(store + "/spool/evil"), 0u);  // the link itself is left too
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_EQ(report->skipped[0], store + "/spool/hard: has 2 hard links, ownership not changed");

  // Run again: nothing left to change.
  auto again = ChownTree(store, kUser, kGroup);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->changed, 0u);
}

TEST_F(ChownTreeTest, RefusesATopReachedThroughAnUnsafeLink) {
  std::string shared = Path("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0777), 0);
  ASSERT_EQ(mkdir(Path("real").c_str(), 0755), 0);
  ASSERT_EQ(symlink(Path("real").c_str(), (shared + "/store").c_str()), 0);
  PathPolicy policy;
  policy.trusted_uid = geteuid();
  auto report = ChownTree(shared + "/store", geteuid(), getegid(), policy);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("that others can change"), std::string::npos)
      << report.error().message;
  auto missing = ChownTree(Path("none"), geteuid(), getegid(), policy);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot stat " + Path("none")), std::string::npos);
}

TEST_F(ChownTreeTest, FailsWithoutThePrivilege) {
  if (geteuid() == 0) GTEST_SKIP() << "root may chown anything";
  ASSERT_EQ(mkdir(Path("store").c_str(), 0755), 0);
  PathPolicy policy;
  policy.trusted_uid = geteuid();
  auto report = ChownTree(Path("store"), 0, 0, policy);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("chown " + Path("store")), std::string::npos);
}

}  // namespace
}  // namespace threadmill
