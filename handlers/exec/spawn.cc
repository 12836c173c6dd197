// spawn.cc - see spawn.h.
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <time.h>

namespace threadmill::handlers::exec {

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The ends are >= 3 so that dup2 onto 0..2 in the child never hits an fd
// that is already in place (and so keeps its close-on-exec flag).
bool MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    if (fds[i] < 3) {
      int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (moved < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
      }
      close(fds[i]);
      fds[i] = moved;
    }
  }
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  return true;
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

namespace {

// posix_spawn attributes and file actions, destroyed on scope exit.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  bool actions_ok = false;
  bool attr_ok = false;
  ~SpawnSetup() {
    if (actions_ok) posix_spawn_file_actions_destroy(&actions);
    if (attr_ok) posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

int Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in_fd,
          int out_fd, int err_fd, pid_t* pid) {
  SpawnSetup s;
  int rc = posix_spawn_file_actions_init(&s.actions);
  if (rc != 0) return rc;
  s.actions_ok = true;
  if ((rc = posix_spawn_file_actions_adddup2(&s.actions, in_fd, 0)) != 0 ||
      (rc = posix_spawn_file_actions_adddup2(&s.actions, out_fd, 1)) != 0 ||
      (rc = posix_spawn_file_actions_adddup2(&s.actions, err_fd, 2)) != 0 ||
      (rc = posix_spawn_file_actions_addclosefrom_np(&s.actions, 3)) != 0) {
    return rc;
  }
  if ((rc = posix_spawnattr_init(&s.attr)) != 0) return rc;
  s.attr_ok = true;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP;
  if ((rc = posix_spawnattr_setflags(&s.attr, flags)) != 0 ||
      (rc = posix_spawnattr_setsigdefault(&s.attr, &all)) != 0 ||
      (rc = posix_spawnattr_setsigmask(&s.attr, &none)) != 0 ||
      (rc = posix_spawnattr_setpgroup(&s.attr, 0)) != 0) {
    return rc;
  }
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  return posix_spawn(pid, args[0], &s.actions, &s.attr, args.data(), envp.data());
}

void KillGroup(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

}  // namespace threadmill::handlers::exec
