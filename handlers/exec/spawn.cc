// spawn.cc - see spawn.h.
#include "spawn.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>

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

int SpawnTied(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in_fd,
              int out_fd, int err_fd, pid_t* pid) {
  if (argv.empty()) return EINVAL;
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Fd report_r, report_w;  // the child writes its errno here when execve fails
  if (!MakePipe(&report_r, &report_w)) return errno;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);  // no handler of ours may run in the child
  const pid_t parent = getpid();
  const int report = report_w.get();
  pid_t child = fork();
  if (child == 0) {
    // Async-signal-safe calls only from here on.
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    int err = 0;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) err = ECHILD;
    if (err == 0 && setpgid(0, 0) != 0) err = errno;
    if (err == 0 && (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)) {
      err = errno;
    }
    if (err == 0) {
      // Nothing but 0..2 survives execve: the report pipe is close-on-exec.
      if (report > 3) close_range(3, static_cast<unsigned>(report) - 1, 0);
      close_range(static_cast<unsigned>(report) + 1, ~0U, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execve(args[0], args.data(), envp.data());
      err = errno;
    }
    ssize_t ignored = write(report, &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (child < 0) return fork_errno;
  report_w.Close();
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report_r.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {  // execve (or the set-up) failed
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return child_errno != 0 ? child_errno : ECHILD;
  }
  *pid = child;
  return 0;
}

void KillGroup(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

}  // namespace threadmill::handlers::exec
