// spawn.h - starting a program the way exec runs it (one-shot and session mode alike): fixed
// argv and environment, three pipes, its own process group; and the small descriptor helpers
// around it.
//
// DESCRIPTION
//   Spawn starts argv[0] (an absolute path; no shell, no PATH search) with posix_spawn, which
//   is safe in a multi-threaded process: the child gets the given descriptors as stdin, stdout
//   and stderr, every other descriptor closed, all signal dispositions reset to default, an
//   empty signal mask, and its own process group (KillGroup kills it all).
//
// LIMITS
//   Linux/glibc (posix_spawn_file_actions_addclosefrom_np, glibc >= 2.34).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace threadmill::handlers::exec {

// Milliseconds of CLOCK_MONOTONIC.
int64_t NowMs();

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A close-on-exec pipe whose ends are >= 3. False (errno set) on failure.
bool MakePipe(Fd* read_end, Fd* write_end);

void SetNonBlocking(int fd);

// Starts argv with exactly `env` ("NAME=value"); 0 or an errno value.
int Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in_fd,
          int out_fd, int err_fd, pid_t* pid);

// Spawn's twin for programs that outlive one call (session mode): the same child set-up, done
// with fork() and only async-signal-safe calls before execve, plus PR_SET_PDEATHSIG = SIGKILL,
// so the program dies with the calling thread's process even when that is killed outright
// (a worker killed at its job time-out). 0 or an errno value (also when execve failed).
int SpawnTied(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in_fd,
              int out_fd, int err_fd, pid_t* pid);

// SIGKILL to the process group `pid` leads, and to pid itself.
void KillGroup(pid_t pid);

}  // namespace threadmill::handlers::exec
