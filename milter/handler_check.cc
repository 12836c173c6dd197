// handler_check.cc - see handler_check.h.
#include "milter/handler_check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

#include "common/privileges.h"
#include "common/unique_fd.h"
#include "config/config.h"
#include "runtime/config_snapshot.h"
#include "runtime/handler_registry.h"

extern char** environ;

namespace threadmill::milter {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

bool HandlersConfigured(const runtime::RuntimeConfig& runtime_config) {
  return !runtime_config.routes.empty() || !runtime_config.handlers.empty();
}

int RunHandlerCheckMode(const std::string& config_path) {
  try {
    runtime::ConfigSnapshot snapshot = runtime::LoadConfigSnapshot(config_path);
    const runtime::RuntimeConfig& rt = *snapshot.runtime;
    const config::MilterConfig& milter = snapshot.config->milter;
    auto plan = PlanPrivilegeDrop({milter.user, milter.group}, geteuid());
    if (!plan.ok()) {
      std::printf("%s\n", plan.error().message.c_str());
      return 2;
    }
    if (Status dropped = DropPrivileges(*plan); !dropped.ok()) {
      std::printf("%s\n", dropped.error().message.c_str());
      return 2;
    }
    if (!HandlersConfigured(rt)) return 0;
    std::vector<std::string> problems = runtime::CheckHandlerModules(rt);
    for (const std::string& problem : problems) std::printf("%s\n", problem.c_str());
    std::fflush(stdout);
    return problems.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("%s\n", e.what());
    return 2;
  }
}

Result<std::vector<std::string>> CheckHandlersInHelper(const std::string& config_path) {
  UniqueFd read_end, write_end;
  if (!MakePipe(&read_end, &write_end)) {
    return MakeError(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // libmilter's sockets have no FD_CLOEXEC: the check must not hold the listener.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  // The running code checks, even when a package upgrade replaced the file since.
  const char* argv[] = {"threadmill", "--check-handlers", "-c", config_path.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, const_cast<char**>(argv),
                       environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  if (rc != 0) return MakeError(ErrorCode::kInternal, std::string("spawn: ") + std::strerror(rc));

  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kCheckTimeoutSeconds);
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[1024];
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < 64 * 1024) out.append(buf, static_cast<size_t>(n));
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return MakeError(ErrorCode::kTemporary, "the handler check did not finish within " +
                                              std::to_string(kCheckTimeoutSeconds) + " s");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
    std::vector<std::string> lines = Lines(out);
    return MakeError(ErrorCode::kInternal,
                     "the handler check failed: " + (lines.empty() ? "no output" : lines.front()));
  }
  std::vector<std::string> problems = Lines(out);
  if (WEXITSTATUS(status) == 1 && problems.empty()) problems.push_back("unnamed handler problem");
  return problems;
}

}  // namespace threadmill::milter
