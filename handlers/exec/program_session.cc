// program_session.cc - see program_session.h.
#include "program_session.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>

#include "handlers/common/sigpipe_block.h"

namespace threadmill::handlers::exec {
namespace {

// How a reaped child ended, for log lines.
std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

// Whether pid has exited, waiting at most until deadline_ms; it is not reaped.
bool ExitedBy(pid_t pid, int64_t deadline_ms) {
  int sleep_ms = 1;
  for (;;) {
    siginfo_t info = {};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT | WNOHANG) != 0) {
      if (errno == EINTR) continue;
      return true;  // not our child any more: nothing to wait for
    }
    if (info.si_pid == pid) return true;
    if (NowMs() >= deadline_ms) return false;
    struct timespec ts = {0, sleep_ms * 1000000L};
    nanosleep(&ts, nullptr);
    if (sleep_ms < 20) sleep_ms *= 2;
  }
}

}  // namespace

int ProgramSession::Start(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env) {
  Stop(0);
  Fd in_r, out_w, err_w;
  if (argv.empty()) return EINVAL;
  if (!MakePipe(&in_r, &in_) || !MakePipe(&out_, &out_w) || !MakePipe(&err_, &err_w)) {
    int e = errno;
    in_.Close();
    out_.Close();
    err_.Close();
    return e;
  }
  pid_t pid = -1;
  int rc = SpawnTied(argv, env, in_r.get(), out_w.get(), err_w.get(), &pid);
  if (rc != 0) {
    in_.Close();
    out_.Close();
    err_.Close();
    return rc;
  }
  pid_ = pid;
  SetNonBlocking(in_.get());
  SetNonBlocking(out_.get());
  SetNonBlocking(err_.get());
  lines_.Clear();
  to_write_.clear();
  written_ = 0;
  write_failed_ = false;
  err_partial_.clear();
  return 0;
}

void ProgramSession::KeepStderrLine(std::string line) {
  if (line.size() > kMaxStderrLine) line.resize(kMaxStderrLine);
  if (err_lines_.size() >= kMaxStderrLines) {
    err_dropped_++;
    return;
  }
  err_lines_.push_back(std::move(line));
}

void ProgramSession::ReadStdout() {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(out_.get(), chunk, sizeof chunk);
    if (n > 0) {
      lines_.Append(std::string_view(chunk, static_cast<size_t>(n)));
      // Enough to tell a complete line or an overlong one; the rest waits in the pipe.
      if (lines_.pending() > 0 &&
          std::string_view(chunk, static_cast<size_t>(n)).find('\n') != std::string_view::npos) {
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    out_.Close();
    return;
  }
}

void ProgramSession::ReadStderr() {
  char chunk[8192];
  for (;;) {
    ssize_t n = read(err_.get(), chunk, sizeof chunk);
    if (n > 0) {
      err_partial_.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = err_partial_.find('\n')) != std::string::npos) {
        KeepStderrLine(err_partial_.substr(0, nl));
        err_partial_.erase(0, nl + 1);
      }
      if (err_partial_.size() > kMaxStderrLine) {
        KeepStderrLine(std::move(err_partial_));
        err_partial_.clear();
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (!err_partial_.empty()) KeepStderrLine(std::move(err_partial_));
    err_partial_.clear();
    err_.Close();
    return;
  }
}

bool ProgramSession::Pump(int64_t deadline_ms, bool want_write) {
  int64_t left = deadline_ms - NowMs();
  if (left <= 0) return false;
  struct pollfd fds[3];
  nfds_t n = 0;
  int out_i = -1, err_i = -1, in_i = -1;
  if (out_.open()) fds[out_i = static_cast<int>(n++)] = {out_.get(), POLLIN, 0};
  if (err_.open()) fds[err_i = static_cast<int>(n++)] = {err_.get(), POLLIN, 0};
  if (want_write && in_.open()) fds[in_i = static_cast<int>(n++)] = {in_.get(), POLLOUT, 0};
  if (n == 0) return true;
  int ready = poll(fds, n, static_cast<int>(left > 1000 ? 1000 : left));
  if (ready <= 0) return NowMs() < deadline_ms;
  if (out_i >= 0 && fds[out_i].revents) ReadStdout();
  if (err_i >= 0 && fds[err_i].revents) ReadStderr();
  if (in_i >= 0 && fds[in_i].revents) {
    common::SigpipeBlock no_sigpipe;  // a program that closed stdin must not kill the worker
    while (written_ < to_write_.size()) {
      ssize_t w = write(in_.get(), to_write_.data() + written_, to_write_.size() - written_);
      if (w > 0) {
        written_ += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      write_failed_ = true;  // EPIPE: the program is gone or closed its stdin
      break;
    }
  }
  return true;
}

ProgramSession::Io ProgramSession::Write(const std::string& line, int64_t deadline_ms) {
  if (!running() || !in_.open()) return Io::kClosed;
  to_write_ = line;
  written_ = 0;
  while (written_ < to_write_.size()) {
    if (write_failed_) return Io::kClosed;
    if (!Pump(deadline_ms, true)) return Io::kTimeout;
  }
  to_write_.clear();
  written_ = 0;
  return write_failed_ ? Io::kClosed : Io::kOk;
}

ProgramSession::Io ProgramSession::Read(std::string* line, int64_t deadline_ms) {
  for (;;) {
    switch (lines_.Pop(line)) {
      case common::LineBuffer::Next::kLine:
        return Io::kOk;
      case common::LineBuffer::Next::kTooLong:
        return Io::kTooLong;
      case common::LineBuffer::Next::kNone:
        break;
    }
    if (!running() || !out_.open()) return Io::kClosed;
    if (!Pump(deadline_ms, false)) return Io::kTimeout;
  }
}

std::vector<std::string> ProgramSession::TakeStderr(size_t* dropped) {
  if (err_.open() && running()) {
    struct pollfd p = {err_.get(), POLLIN, 0};
    if (poll(&p, 1, 0) > 0) ReadStderr();
  }
  std::vector<std::string> out;
  out.swap(err_lines_);
  *dropped = err_dropped_;
  err_dropped_ = 0;
  return out;
}

std::string ProgramSession::Stop(int grace_ms) {
  if (pid_ <= 0) return "";
  in_.Close();
  // Give it grace_ms to leave on its own (reading what it says meanwhile), then kill the
  // group: the unreaped pid keeps the group id from being reused meanwhile.
  const int64_t deadline = NowMs() + grace_ms;
  while (grace_ms > 0 && !ExitedBy(pid_, NowMs())) {
    if (!Pump(deadline, false) || (!out_.open() && !err_.open())) {
      ExitedBy(pid_, deadline);
      break;
    }
  }
  if (err_.open()) ReadStderr();
  KillGroup(pid_);
  int status = 0;
  pid_t waited;
  do {
    waited = waitpid(pid_, &status, 0);
  } while (waited < 0 && errno == EINTR);
  std::string how = waited == pid_ ? DescribeStatus(status) : "exit status unknown";
  pid_ = -1;
  out_.Close();
  err_.Close();
  lines_.Clear();
  return how;
}

}  // namespace threadmill::handlers::exec
