#include "reply/sendmail.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace threadmill::reply {
namespace {

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() > 300) text.resize(300);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

const char* ToString(ReinjectResult result) {
  switch (result) {
    case ReinjectResult::kAccepted:
      return "accepted";
    case ReinjectResult::kNotQueued:
      return "not-queued";
    case ReinjectResult::kAmbiguous:
      return "ambiguous";
  }
  return "not-queued";
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return 0;
  std::string line;
  std::getline(in, line);
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(close_paren + 1));
  std::string field;
  // Field 3 is the state; field 22 the start time.
  for (int n = 3; n <= 22 && fields >> field; ++n) {
    if (n == 3 && (field == "Z" || field == "X")) return 0;
    if (n == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  uint64_t now = ProcessStartTime(pid);
  return now != 0 && (start_time == 0 || now == start_time);
}

Result<std::unique_ptr<Reinjection>> Reinjection::Prepare(
    const std::vector<std::string>& command, std::string_view envelope_sender,
    const std::vector<std::string>& recipients, std::string_view message,
    std::string_view gate_marker) {
  if (command.empty() || command.front().empty() || command.front()[0] != '/') {
    return MakeError(ErrorCode::kInvalidInput, "sendmail: command must be an absolute path");
  }
  if (recipients.empty()) return MakeError(ErrorCode::kInvalidInput, "sendmail: no recipient");
  std::vector<std::string> args = command;
  args.insert(args.end(),
              {"-i", "-f", envelope_sender.empty() ? "<>" : std::string(envelope_sender), "--"});
  args.insert(args.end(), recipients.begin(), recipients.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::unique_ptr<Reinjection> r(new Reinjection());
  r->program_ = command.front();
  r->size_ = message.size();
  r->memfd_.reset(memfd_create("threadmill-reply", MFD_CLOEXEC));
  if (!r->memfd_) {
    return MakeError(ErrorCode::kTemporary, std::string("sendmail: memfd: ") + strerror(errno));
  }
  if (!WriteAll(r->memfd_.get(), message) || lseek(r->memfd_.get(), 0, SEEK_SET) != 0) {
    return MakeError(ErrorCode::kTemporary,
                     std::string("sendmail: writing the message: ") + strerror(errno));
  }
  // The marker's directory, opened now: the child may only make async-signal-safe calls.
  UniqueFd marker_dir;
  std::string marker_name;
  if (!gate_marker.empty()) {
    size_t slash = gate_marker.rfind('/');
    if (slash == std::string_view::npos || slash + 1 == gate_marker.size()) {
      return MakeError(ErrorCode::kInvalidInput, "sendmail: gate marker must be a file path");
    }
    std::string dir(gate_marker.substr(0, slash == 0 ? 1 : slash));
    marker_name = std::string(gate_marker.substr(slash + 1));
    marker_dir.reset(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!marker_dir) {
      return MakeError(ErrorCode::kTemporary,
                       "sendmail: gate marker directory " + dir + ": " + strerror(errno));
    }
  }
  int gate_dir = marker_dir.get();
  const char* gate_name = marker_name.c_str();
  UniqueFd go_read, go_write, err_read, err_write;
  if (!MakePipe(&go_read, &go_write) || !MakePipe(&err_read, &err_write)) {
    return MakeError(ErrorCode::kTemporary, "sendmail: pipe failed");
  }
  int memfd = r->memfd_.get();
  int go[2] = {go_read.get(), go_write.get()};
  int err[2] = {err_read.get(), err_write.get()};
  pid_t pid = fork();
  if (pid < 0) {
    return MakeError(ErrorCode::kTemporary, std::string("sendmail: fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls. No parent-death signal: once started, sendmail
    // runs to completion even when the worker dies (the message is a file, never cut short).
    dup2(memfd, 0);
    dup2(err[1], 1);
    dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    close(go[1]);  // or the read below never sees the parent give up
    close(err[0]);
    char go_byte = 0;
    ssize_t n;
    do {
      n = read(go[0], &go_byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(kGateClosedExit);  // the parent gave up (or died): the marker stays
    if (gate_dir >= 0) {
      // From here on sendmail may run: the marker goes, durably, or nothing runs. ENOENT: it
      // is gone already, which reads as "may have run" (the truth from now on).
      if (unlinkat(gate_dir, gate_name, 0) != 0 && errno != ENOENT) _exit(kGateMarkerExit);
      if (fsync(gate_dir) != 0 && errno != EINVAL && errno != EROFS) _exit(kGateMarkerExit);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  r->pid_ = pid;
  r->go_fd_ = std::move(go_write);
  r->err_fd_ = std::move(err_read);
  r->start_time_ = ProcessStartTime(pid);
  fcntl(r->err_fd_.get(), F_SETFL, O_NONBLOCK);
  return r;
}

Reinjection::~Reinjection() {
  // Before waiting: an un-run child exits without exec when go_fd_ closes.
  go_fd_.reset();
  err_fd_.reset();
  memfd_.reset();
  if (pid_ > 0 && !reaped_) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

ReinjectOutcome Reinjection::Run(int timeout_seconds) {
  ReinjectOutcome out;
  if (pid_ <= 0 || !go_fd_) {
    out.detail = "sendmail: not prepared";
    return out;
  }
  char go_byte = 'g';
  bool started = write(go_fd_.get(), &go_byte, 1) == 1;
  go_fd_.reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  std::string errors;
  bool timed_out = false;
  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      break;
    }
    if (done < 0 && errno != EINTR) {
      reaped_ = true;  // nothing to wait for
      status = 0x7f00;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      kill(pid_, SIGKILL);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
      break;
    }
    // Collect its diagnostics; check for its exit at least every 20 ms.
    pollfd fd{err_fd_.get(), POLLIN, 0};
    int rc = poll(&fd, err_fd_ ? 1 : 0, static_cast<int>(std::min<int64_t>(left, 20)));
    if (rc > 0 && err_fd_) {
      char buf[4096];
      ssize_t r = read(err_fd_.get(), buf, sizeof buf);
      if (r > 0) {
        if (errors.size() < 2000) errors.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        err_fd_.reset();
      }
    }
  }
  if (err_fd_) {
    char buf[4096];
    ssize_t r;
    while ((r = read(err_fd_.get(), buf, sizeof buf)) > 0 && errors.size() < 2000) {
      errors.append(buf, static_cast<size_t>(r));
    }
    err_fd_.reset();
  }
  errors = OneLine(errors);
  off_t offset = lseek(memfd_.get(), 0, SEEK_CUR);
  bool whole = offset >= 0 && static_cast<size_t>(offset) >= size_;
  if (!started) {
    out.result = ReinjectResult::kNotQueued;
    out.detail = "sendmail: could not be started";
  } else if (timed_out) {
    out.result = whole ? ReinjectResult::kAmbiguous : ReinjectResult::kNotQueued;
    out.detail = "sendmail: timed out after " + std::to_string(timeout_seconds) + " s";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && whole) {
    out.result = ReinjectResult::kAccepted;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    out.result = ReinjectResult::kNotQueued;  // not a sendmail: -i reads up to end of file
    out.detail = "sendmail: exited before reading the whole message";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && errors.empty()) {
    out.result = ReinjectResult::kNotQueued;
    out.detail = "sendmail: cannot execute " + program_;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kGateMarkerExit && errors.empty() &&
             !whole) {
    out.result = ReinjectResult::kNotQueued;
    out.detail = "sendmail: not started: the gate marker could not be removed durably";
  } else {
    out.result = whole ? ReinjectResult::kAmbiguous : ReinjectResult::kNotQueued;
    out.detail = "sendmail: " + Describe(status) + (errors.empty() ? "" : ": " + errors);
  }
  if (out.result != ReinjectResult::kAccepted && !whole) {
    out.detail += " (read " + std::to_string(offset < 0 ? 0 : offset) + " of " +
                  std::to_string(size_) + " bytes)";
  }
  return out;
}

Status Reinject(const std::vector<std::string>& command, std::string_view envelope_sender,
                const std::vector<std::string>& recipients, std::string_view message,
                int timeout_seconds) {
  auto r = Reinjection::Prepare(command, envelope_sender, recipients, message);
  if (!r.ok()) return r.error();
  ReinjectOutcome outcome = (*r)->Run(timeout_seconds);
  if (outcome.result == ReinjectResult::kAccepted) return {};
  return MakeError(ErrorCode::kTemporary, outcome.detail);
}

}  // namespace threadmill::reply
