#include "reply/sendmail.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace threadmill::reply {
namespace {

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// write() with SIGPIPE blocked for this thread (a pending one is consumed), so a sendmail
// that exits early gives EPIPE instead of killing the process.
ssize_t WriteNoSigpipe(int fd, const char* data, size_t len) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t w = write(fd, data, len);
  int saved = errno;
  if (w < 0 && saved == EPIPE) {
    timespec zero{0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return w;
}

}  // namespace

Status Reinject(const std::vector<std::string>& command, std::string_view envelope_sender,
                const std::vector<std::string>& recipients, std::string_view message,
                int timeout_seconds) {
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

  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return MakeError(ErrorCode::kTemporary, "sendmail: pipe failed");
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return MakeError(ErrorCode::kTemporary, "sendmail: pipe failed");
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(in[0]), close(in[1]), close(err[0]), close(err[1]);
    return MakeError(ErrorCode::kTemporary, std::string("sendmail: fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls.
    dup2(in[0], 0);
    dup2(err[1], 1);
    dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(err[1]);
  int write_fd = in[1];
  int read_fd = err[0];
  fcntl(write_fd, F_SETFL, O_NONBLOCK);
  fcntl(read_fd, F_SETFL, O_NONBLOCK);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  size_t written = 0;
  std::string errors;
  bool timed_out = false;
  bool write_failed = false;
  while (write_fd >= 0 || read_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    int n = 0;
    int wi = -1, ri = -1;
    if (write_fd >= 0) fds[wi = n++] = {write_fd, POLLOUT, 0};
    if (read_fd >= 0) fds[ri = n++] = {read_fd, POLLIN, 0};
    int rc = poll(fds, n, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) break;
    if (wi >= 0 && fds[wi].revents) {
      if (fds[wi].revents & (POLLERR | POLLHUP)) {
        write_failed = written < message.size();
        CloseFd(&write_fd);
      } else {
        ssize_t w = WriteNoSigpipe(write_fd, message.data() + written, message.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          write_failed = true;
          CloseFd(&write_fd);
        } else if (written == message.size()) {
          CloseFd(&write_fd);
        }
      }
    }
    if (ri >= 0 && fds[ri].revents) {
      char buf[4096];
      ssize_t r = read(read_fd, buf, sizeof buf);
      if (r > 0) {
        if (errors.size() < 2000) errors.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(&read_fd);
      }
    }
  }
  CloseFd(&write_fd);
  CloseFd(&read_fd);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!errors.empty() && (errors.back() == '\n' || errors.back() == '\r')) errors.pop_back();
  if (errors.size() > 300) errors.resize(300);
  for (char& c : errors) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (timed_out) {
    return MakeError(ErrorCode::kTemporary,
                     "sendmail: timed out after " + std::to_string(timeout_seconds) + " s");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && errors.empty()) {
    return MakeError(ErrorCode::kTemporary, "sendmail: cannot execute " + command.front());
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError(ErrorCode::kTemporary,
                     "sendmail: " + Describe(status) + (errors.empty() ? "" : ": " + errors));
  }
  if (write_failed) {
    return MakeError(ErrorCode::kTemporary, "sendmail: exited before reading the whole message");
  }
  return {};
}

}  // namespace threadmill::reply
