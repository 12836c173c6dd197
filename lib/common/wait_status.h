// wait_status.h - a child's wait status in words, for log lines.
//
// DESCRIPTION
//   DescribeWaitStatus(status) for a status from waitpid(): "signal 9 (Killed)",
//   "exited with status 3", or "ended" for anything else (stopped, continued). The
//   supervisor (workers) and the daemon (the supervisor) log their children's ends with it.
#pragma once

#include <string>

namespace threadmill {

std::string DescribeWaitStatus(int status);

}  // namespace threadmill
