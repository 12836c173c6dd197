// supervisor_keeper.cc - see supervisor_keeper.h.
#include "milter/supervisor_keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "common/wait_status.h"
#include "log/logger.h"

namespace threadmill::milter {
namespace {

constexpr int kLifelineFd = 3;  // where a restarted supervisor finds its lifeline
constexpr int64_t kFirstBackoffMs = 1000;
constexpr int64_t kMaxBackoffMs = 60000;
constexpr int64_t kHealthyMs = 60000;  // a supervisor that lived this long resets the back-off

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "/proc/self/exe";
}

}  // namespace

SupervisorKeeper::SupervisorKeeper(std::string config_path, runtime::SupervisorHandle first,
                                   std::shared_ptr<metrics::Registry> metrics)
    : config_path_(std::move(config_path)),
      exe_(SelfExe()),
      metrics_(std::move(metrics)),
      handle_(std::move(first)) {
  if (handle_.pid <= 0) return;
  metrics_->GetCounter("threadmill_supervisor_restarts_total",
                       "Handler supervisor restarts after it died");
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  thread_ = std::thread([this] { Loop(); });
}

SupervisorKeeper::~SupervisorKeeper() { Stop(10); }

void SupervisorKeeper::Signal(int signal_number) {
  std::lock_guard lock(mutex_);
  runtime::ForwardSignal(handle_, signal_number);
}

void SupervisorKeeper::Stop(int timeout_seconds) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t ignored = write(stop_fd_.get(), &one, sizeof one);
    (void)ignored;
    thread_.join();
  }
  stop_fd_.reset();
  std::lock_guard lock(mutex_);
  if (handle_.pid > 0) runtime::StopSupervisor(&handle_, timeout_seconds);
}

bool SupervisorKeeper::Restart() {
  UniqueFd lifeline_read, lifeline_write;
  if (!MakePipe(&lifeline_read, &lifeline_write)) {
    log::Get().error("supervisor restart: pipe: {}", std::strerror(errno));
    return false;
  }
  std::string lifeline_arg = std::to_string(kLifelineFd);
  const char* argv[] = {"threadmill",         "-c",   config_path_.c_str(), "-S",
                        lifeline_arg.c_str(), nullptr};
  pid_t pid = fork();
  if (pid < 0) {
    log::Get().error("supervisor restart: fork: {}", std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (dup2(lifeline_read.get(), kLifelineFd) < 0) _exit(127);
    // Everything else the daemon has open (libmilter's sockets have no FD_CLOEXEC) stays here.
    syscall(SYS_close_range, kLifelineFd + 1, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
    fcntl(kLifelineFd, F_SETFD, 0);
    execv(exe_.c_str(), const_cast<char**>(argv));
    _exit(127);
  }
  lifeline_read.reset();
  std::lock_guard lock(mutex_);
  handle_ = runtime::SupervisorHandle{pid, std::move(lifeline_write)};
  log::Get().info("handler supervisor restarted as pid {}", pid);
  return true;
}

void SupervisorKeeper::Loop() {
  int64_t backoff_ms = kFirstBackoffMs;
  int64_t started_ms = NowMs();
  uint64_t restarts = 0;
  for (;;) {
    pid_t pid;
    {
      std::lock_guard lock(mutex_);
      pid = handle_.pid;
    }
    UniqueFd pidfd(pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1);
    pollfd fds[2] = {{stop_fd_.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    // Without a pidfd (old kernel, or the child is already gone) look every 200 ms.
    int rc = poll(fds, 2, pidfd ? -1 : 200);
    pidfd.reset();
    if (rc > 0 && (fds[0].revents & POLLIN)) return;  // Stop()
    if (pid <= 0) continue;
    int status = 0;
    pid_t reaped = waitpid(pid, &status, WNOHANG);
    if (reaped != pid) {
      if (reaped < 0 && errno == ECHILD)
        status = 0;  // reaped elsewhere: treat as ended
      else
        continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      handle_ = runtime::SupervisorHandle{};
    }
    if (NowMs() - started_ms >= kHealthyMs) backoff_ms = kFirstBackoffMs;
    ++restarts;
    metrics_
        ->GetCounter("threadmill_supervisor_restarts_total",
                     "Handler supervisor restarts after it died")
        .Add();
    log::Get().error("handler supervisor {} died: {}; restart {} in {} ms", pid,
                     DescribeWaitStatus(status), restarts, backoff_ms);
    for (;;) {
      pollfd stop = {stop_fd_.get(), POLLIN, 0};
      if (poll(&stop, 1, static_cast<int>(backoff_ms)) > 0) return;
      backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
      started_ms = NowMs();
      if (Restart()) break;
    }
  }
}

}  // namespace threadmill::milter
