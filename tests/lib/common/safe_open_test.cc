// OpenPath: links are followed only when nobody but root (here: the test's own uid) can change
// them; with trusted_directories every directory on the way must be safe. ChmodFd/ChownFd
// work on O_PATH descriptors. Runs without root; the foreign-owner cases need root.
#include "common/safe_open.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "support/temp_dir.h"

namespace threadmill {
namespace {

class SafeOpenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_.trusted_uid = geteuid();
    ASSERT_EQ(chmod(root().c_str(), 0755), 0);
    Dir("real");
    File("real/file", "content");
  }
  std::string root() const { return dir_.str(); }
  std::string Path(const std::string& rel) const { return root() + "/" + rel; }
  void Dir(const std::string& rel, mode_t mode = 0755) {
    ASSERT_EQ(mkdir(Path(rel).c_str(), mode), 0);
    ASSERT_EQ(chmod(Path(rel).c_str(), mode), 0);
  }
  void File(const std::string& rel, const std::string& text) { std::ofstream(Path(rel)) << text; }
  void Link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(symlink(target.c_str(), Path(rel).c_str()), 0) << rel;
  }
  // "" when opened, else the error message.
  std::string Open(const std::string& path, int flags = O_RDONLY) {
    auto fd = OpenPath(path, flags, policy_);
    return fd.ok() ? "" : fd.error().message;
  }
  std::string Read(const std::string& path) {
    auto fd = OpenPath(path, O_RDONLY, policy_);
    if (!fd.ok()) return "error: " + fd.error().message;
    char buf[64];
    ssize_t n = read(fd->get(), buf, sizeof buf);
    return n < 0 ? "read error" : std::string(buf, static_cast<size_t>(n));
  }

  testing::TempDir dir_;
  PathPolicy policy_;
};

TEST_F(SafeOpenTest, FollowsLinksNobodyElseCanChange) {
  Dir("safe");
  Link(Path("real/file"), "safe/absolute");
  Link("../real/file", "safe/relative");
  Link(Path("real"), "safe/dirlink");
  Link("./dirlink/../real/./file", "safe/winding");
  struct Case {
    std::string path, want;
  } cases[] = {
      {Path("real/file"), "content"},     {Path("safe/absolute"), "content"},
      {Path("safe/relative"), "content"}, {Path("safe/dirlink/file"), "content"},
      {Path("safe/winding"), "content"},  {Path("real//./file"), "content"},
  };
  for (const auto& c : cases) EXPECT_EQ(Read(c.path), c.want) << c.path;
}

TEST_F(SafeOpenTest, RefusesLinksInDirectoriesOthersCanWrite) {
  Dir("shared", 0775);
  Link(Path("real/file"), "shared/link");
  Link(Path("real"), "shared/dirlink");
  EXPECT_NE(Open(Path("shared/link"))
                .find("symbolic link " + Path("shared/link") +
                      " is in a "
                      "directory " +
                      Path("shared") + " (owner uid " + std::to_string(geteuid()) +
                      ", mode 0775) that others can change"),
            std::string::npos)
      << Open(Path("shared/link"));
  EXPECT_NE(Open(Path("shared/dirlink/file")).find("that others can change"), std::string::npos);
  // A sticky directory (like /tmp) keeps others from replacing the owner's links.
  Dir("sticky", 01777);
  Link(Path("real/file"), "sticky/link");
  EXPECT_EQ(Read(Path("sticky/link")), "content");
}

TEST_F(SafeOpenTest, TrustedDirectoriesEveryStep) {
  Dir("open", 0777);
  File("open/file", "x");
  Dir("group", 0770);
  File("group/file", "x");
  policy_.trusted_directories = true;
  EXPECT_EQ(Open(Path("real/file")), "");
  EXPECT_NE(Open(Path("open/file"))
                .find("directory " + Path("open") + " (owner uid " + std::to_string(geteuid()) +
                      ", mode 0777) could be changed by others"),
            std::string::npos);
  EXPECT_NE(Open(Path("group/file")).find("could be changed by others"), std::string::npos);
  EXPECT_NE(Open(Path("group"), O_RDONLY | O_DIRECTORY).find("could be changed by others"),
            std::string::npos);
  policy_.trusted_directories = false;
  EXPECT_EQ(Open(Path("open/file")), "");  // no link involved: only links need trust
}

TEST_F(SafeOpenTest, LastComponentIsNeverFollowedByTheKernel) {
  // flags never carry O_NOFOLLOW from the caller; OpenPath adds it. O_PATH then gets the
  // object itself, which is what a caller checks with fstat.
  auto fd = OpenPath(Path("real/file"), O_PATH, policy_);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  struct stat st;
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(SafeOpenTest, CreatesTheLastComponent) {
  auto fd = OpenPath(Path("real/new"), O_WRONLY | O_CREAT | O_EXCL, policy_, 0640);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  struct stat st;
  ASSERT_EQ(stat(Path("real/new").c_str(), &st), 0);
  mode_t mask = umask(022);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~mask);
  EXPECT_NE(Open(Path("missing/new"), O_WRONLY | O_CREAT).find("cannot stat"), std::string::npos);
}

TEST_F(SafeOpenTest, Errors) {
  Link("loop-b", "loop-a");
  Link("loop-a", "loop-b");
  EXPECT_NE(Open(Path("loop-a")).find("too many links"), std::string::npos);
  EXPECT_NE(Open("relative/path").find("not an absolute path"), std::string::npos);
  auto missing = OpenPath(Path("real/none"), O_RDONLY, policy_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("cannot stat " + Path("real/none")), std::string::npos);
  EXPECT_NE(Open(Path("real/file/below")).find("cannot open directory"), std::string::npos);
  EXPECT_EQ(Open("/"), "");
}

TEST_F(SafeOpenTest, ChmodAndChownThroughAnOPathDescriptor) {
  std::string path = Path("real/sock");
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  UniqueFd listener(s);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size());
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  auto fd = OpenPath(path, O_PATH, policy_);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  ASSERT_TRUE(ChmodFd(fd->get(), 0604).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  EXPECT_TRUE(ChownFd(fd->get(), geteuid(), getegid()).ok());
  EXPECT_FALSE(ChmodFd(-1, 0600).ok());
}

TEST_F(SafeOpenTest, RefusesLinksOwnedByOthers) {
  if (geteuid() != 0) GTEST_SKIP() << "lchown to another user needs root";
  Link(Path("real/file"), "foreign");
  ASSERT_EQ(lchown(Path("foreign").c_str(), 65534, 65534), 0);
  EXPECT_NE(
      Open(Path("foreign"))
          .find("symbolic link " + Path("foreign") + " is not owned by root (owner uid 65534)"),
      std::string::npos);
  // A directory owned by someone else is not trusted either.
  Dir("theirs");
  Link(Path("real/file"), "theirs/link");
  ASSERT_EQ(chown(Path("theirs").c_str(), 65534, 65534), 0);
  EXPECT_NE(Open(Path("theirs/link")).find("that others can change"), std::string::npos);
}

}  // namespace
}  // namespace threadmill
