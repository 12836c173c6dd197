// run_program.h - runs one program with a fixed argv and environment, feeds it stdin, collects its
// stdout/stderr, and kills it at a deadline.
//
// DESCRIPTION
//   RunProgram starts argv[0] (an absolute path; no shell, no PATH search) with posix_spawn,
//   which is safe in a multi-threaded process: the child gets stdin/stdout/stderr pipes, every
//   other descriptor closed, all signal dispositions reset to default, an empty signal mask,
//   and its own process group. The parent writes stdin while reading stdout and stderr in one
//   poll() loop, so neither side can deadlock on a full pipe. At the deadline, or when stdout
//   passes its cap, the whole process group is killed with SIGKILL. After the program exits,
//   anything it left running in its process group is killed too, so no process outlives the
//   job.
//
// LIMITS
//   Linux/glibc (posix_spawn_file_actions_addclosefrom_np, glibc >= 2.34). The caller's worker
//   must not reap children it did not start (waitpid(-1) or SIGCHLD = SIG_IGN): that makes the
//   exit status unknown (Outcome::kWaitFailed). A program that leaves its process group
//   (setsid) escapes the clean-up.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace threadmill::handlers::exec {

struct RunLimits {
  int timeout_ms = 30000;
  size_t max_stdout = 1 << 20;  // more than this → killed, Outcome::kOutputTooLarge
  size_t max_stderr = 8192;     // keeps the first bytes, drops the rest
};

struct RunResult {
  enum class Outcome {
    kExited,          // exit_code is valid
    kSignaled,        // killed by signal `signal` (not by us)
    kTimedOut,        // we killed it at the deadline
    kOutputTooLarge,  // we killed it when stdout passed max_stdout
    kSpawnFailed,     // error_number says why (e.g. ENOENT, EACCES)
    kWaitFailed,      // the exit status could not be read; error_number says why
  };
  Outcome outcome = Outcome::kSpawnFailed;
  int exit_code = -1;
  int signal = 0;
  int error_number = 0;
  std::string out;  // stdout, at most max_stdout bytes
  std::string err;  // the first max_stderr bytes of stderr
};

// Runs argv (argv[0] is the program path) with exactly `env` ("NAME=value") as environment.
// Never throws except std::bad_alloc.
RunResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& input, const RunLimits& limits);

}  // namespace threadmill::handlers::exec
