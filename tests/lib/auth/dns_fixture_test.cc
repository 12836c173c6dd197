// dns_fixture_test.cc - the test rig itself: a test process leaves no files behind.
#include "dns_fixture.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace threadmill::auth {
namespace {

// Runs one World-using test of this binary in a child process whose $TMPDIR is a fresh
// directory, and lists what the child left there after it exited.
TEST(auth_DnsFixture, ProcessLeavesNoTemporaryFiles) {
  char self[PATH_MAX] = {};
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  char tmpl[] = "/tmp/threadmill-fixture-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string cmd = "env -u GTEST_OUTPUT TMPDIR=" + dir + " '" + std::string(self) +
                    "' --gtest_filter=auth_Spf.HeloTable >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    left.push_back(entry.path().filename().string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 0) << cmd;
  EXPECT_EQ(left, std::vector<std::string>{});
}

}  // namespace
}  // namespace threadmill::auth
