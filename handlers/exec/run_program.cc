// run_program.cc - see run_program.h.
#include "run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "handlers/common/sigpipe_block.h"
#include "spawn.h"

namespace threadmill::handlers::exec {
namespace {

// Reads what is available from fd into *buf up to cap bytes (extra bytes are read and dropped
// when !stop_at_cap). Returns false at EOF or error; sets *overflow when cap was passed.
bool Drain(Fd* fd, std::string* buf, size_t cap, bool stop_at_cap, bool* overflow) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd->get(), chunk, sizeof chunk);
    if (n > 0) {
      size_t room = cap > buf->size() ? cap - buf->size() : 0;
      buf->append(chunk, static_cast<size_t>(n) < room ? static_cast<size_t>(n) : room);
      if (static_cast<size_t>(n) > room && stop_at_cap) {
        *overflow = true;
        return true;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    fd->Close();  // EOF or a read error: nothing more will come
    return false;
  }
}

// Writes what the pipe takes of input[*offset..]; closes fd when done or the reader is gone.
void Feed(Fd* fd, const std::string& input, size_t* offset) {
  while (*offset < input.size()) {
    ssize_t n = write(fd->get(), input.data() + *offset, input.size() - *offset);
    if (n > 0) {
      *offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // EPIPE: the program does not read its input; that is its business
  }
  fd->Close();
}

// Waits for pid to exit (until deadline_ms, or forever when deadline_ms < 0) without reaping
// it. Returns 1 when it exited, 0 at the deadline, -1 on error (errno set).
int WaitExited(pid_t pid, int64_t deadline_ms) {
  int sleep_ms = 1;
  for (;;) {
    siginfo_t info = {};
    int flags = WEXITED | WNOWAIT | (deadline_ms >= 0 ? WNOHANG : 0);
    if (waitid(P_PID, static_cast<id_t>(pid), &info, flags) != 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (info.si_pid == pid) return 1;
    if (NowMs() >= deadline_ms) return 0;
    struct timespec ts = {0, sleep_ms * 1000000L};
    nanosleep(&ts, nullptr);
    if (sleep_ms < 20) sleep_ms *= 2;
  }
}

}  // namespace

RunResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& input, const RunLimits& limits) {
  RunResult result;
  if (argv.empty()) {
    result.error_number = EINVAL;
    return result;
  }
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  if (!MakePipe(&in_r, &in_w) || !MakePipe(&out_r, &out_w) || !MakePipe(&err_r, &err_w)) {
    result.error_number = errno;
    return result;
  }
  common::SigpipeBlock no_sigpipe;  // a program that does not read stdin must not kill the worker
  const int64_t deadline = NowMs() + limits.timeout_ms;
  pid_t pid = -1;
  int rc = Spawn(argv, env, in_r.get(), out_w.get(), err_w.get(), &pid);
  if (rc != 0) {
    result.error_number = rc;
    return result;
  }
  in_r.Close();
  out_w.Close();
  err_w.Close();
  SetNonBlocking(in_w.get());
  SetNonBlocking(out_r.get());
  SetNonBlocking(err_r.get());

  size_t offset = 0;
  if (input.empty()) in_w.Close();
  bool overflow = false;
  bool timed_out = false;
  while ((out_r.open() || err_r.open()) && !overflow) {
    int64_t left = deadline - NowMs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd fds[3];
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_r.open()) fds[out_i = n++] = {out_r.get(), POLLIN, 0};
    if (err_r.open()) fds[err_i = n++] = {err_r.get(), POLLIN, 0};
    if (in_w.open()) fds[in_i = n++] = {in_w.get(), POLLOUT, 0};
    int ready = poll(fds, n, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (out_i >= 0 && fds[out_i].revents) {
      Drain(&out_r, &result.out, limits.max_stdout, true, &overflow);
    }
    if (err_i >= 0 && fds[err_i].revents) {
      bool ignored = false;
      Drain(&err_r, &result.err, limits.max_stderr, false, &ignored);
    }
    if (in_i >= 0 && fds[in_i].revents) Feed(&in_w, input, &offset);
  }
  in_w.Close();

  int exited = 0;
  int wait_errno = 0;
  if (!timed_out && !overflow) {
    exited = WaitExited(pid, deadline);
    if (exited < 0) wait_errno = errno;
    if (exited == 0) timed_out = true;
  }
  // Kill the group: the program itself on time-out or overflow, and in every case whatever it
  // left behind. The unreaped pid keeps the group id from being reused meanwhile.
  KillGroup(pid);
  int status = 0;
  pid_t waited;
  do {
    waited = waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  if (timed_out) {
    result.outcome = RunResult::Outcome::kTimedOut;
  } else if (overflow) {
    result.outcome = RunResult::Outcome::kOutputTooLarge;
  } else if (waited != pid || exited < 0) {
    result.outcome = RunResult::Outcome::kWaitFailed;
    result.error_number = wait_errno != 0 ? wait_errno : errno;
  } else if (WIFEXITED(status)) {
    result.outcome = RunResult::Outcome::kExited;
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.outcome = RunResult::Outcome::kSignaled;
    result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return result;
}

}  // namespace threadmill::handlers::exec
