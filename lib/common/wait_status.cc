// wait_status.cc - see wait_status.h.
#include "common/wait_status.h"

#include <sys/wait.h>

#include <cstring>

namespace threadmill {

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

}  // namespace threadmill
