// Wait statuses of real children, in words.
#include "common/wait_status.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace threadmill {
namespace {

int StatusOf(void (*child)()) {
  pid_t pid = fork();
  if (pid == 0) {
    child();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(WaitStatus, Describe) {
  EXPECT_EQ(DescribeWaitStatus(StatusOf([] { _exit(3); })), "exited with status 3");
  EXPECT_EQ(DescribeWaitStatus(StatusOf([] { _exit(0); })), "exited with status 0");
  EXPECT_EQ(DescribeWaitStatus(StatusOf([] { raise(SIGKILL); })), "signal 9 (Killed)");
}

}  // namespace
}  // namespace threadmill
