// worker_pool.cc - see worker_pool.h.
#include "runtime/worker_pool.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log/logger.h"
#include "runtime/worker.h"

namespace threadmill::runtime {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizedBuild = true;
#else
constexpr bool kSanitizedBuild = false;
#endif
#else
constexpr bool kSanitizedBuild = false;
#endif

}  // namespace

uint64_t WorkerMemoryLimitBytes(int64_t worker_memory_mb) {
  if (kSanitizedBuild || worker_memory_mb <= 0) return 0;
  return static_cast<uint64_t>(worker_memory_mb) << 20;
}

bool WorkerPool::Spawn(const std::string& instance, const ChildMain& child_main,
                       uint64_t memory_limit_bytes) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    log::Get().error("supervisor: socketpair: {}", std::strerror(errno));
    return false;
  }
  UniqueFd ours(sv[0]), theirs(sv[1]);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    log::Get().error("supervisor: fork: {}", std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    // Plain close() in the child: the supervisor's owners are never destroyed here (_exit).
    close(ours.release());
    for (WorkerSlot& s : slots_) {
      if (s.fd) close(s.fd.release());
    }
    for (int fd : close_in_child_) {
      if (fd >= 0) close(fd);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    if (memory_limit_bytes > 0) {
      rlimit limit{memory_limit_bytes, memory_limit_bytes};
      if (setrlimit(RLIMIT_DATA, &limit) != 0) {
        log::Get().warn("worker {}: setrlimit(RLIMIT_DATA): {}", getpid(), std::strerror(errno));
      }
    }
    int rc = 1;
    try {  // never unwind into the supervisor's stack frames in the child
      rc = child_main(theirs.get());
    } catch (const std::exception& e) {
      log::Get().error("worker {}: {}", getpid(), e.what());
    }
    _exit(rc);
  }
  theirs.reset();
  WorkerSlot slot;
  slot.pid = pid;
  slot.instance = instance;
  slot.fd = std::move(ours);
  slots_.push_back(std::move(slot));
  log::Get().debug("supervisor: worker {} of handler {} started", pid, instance);
  return true;
}

void WorkerPool::Send(WorkerSlot& slot, const WorkerMessage& message) {
  if (!slot.fd || slot.killed) return;
  if (Status sent = SendMessage(slot.fd.get(), message); !sent.ok()) {
    log::Get().warn("supervisor: worker {} unreachable ({}): {}", slot.pid, ToString(message.type),
                    sent.error().message);
    kill(slot.pid, SIGKILL);
    slot.killed = true;
  }
}

void WorkerPool::Retire(WorkerSlot& slot) {
  if (slot.retiring) return;
  slot.retiring = true;
  if (!slot.busy) Send(slot, WorkerMessage::Exit());
}

void WorkerPool::RetireAll() {
  for (WorkerSlot& s : slots_) Retire(s);
}

void WorkerPool::RetireInstance(const std::string& instance) {
  for (WorkerSlot& s : slots_) {
    if (s.instance == instance) Retire(s);
  }
}

void WorkerPool::KillAll() {
  for (WorkerSlot& s : slots_) {
    kill(s.pid, SIGKILL);
    s.killed = true;
  }
}

std::vector<WorkerSlot*> WorkerPool::Idle() {
  std::vector<WorkerSlot*> idle;
  for (WorkerSlot& s : slots_) {
    if (s.Idle()) idle.push_back(&s);
  }
  return idle;
}

std::vector<WorkerSlot*> WorkerPool::Idle(const std::string& instance) {
  std::vector<WorkerSlot*> idle;
  for (WorkerSlot& s : slots_) {
    if (s.Idle() && s.instance == instance) idle.push_back(&s);
  }
  return idle;
}

size_t WorkerPool::Active(const std::string& instance) const {
  size_t active = 0;
  for (const WorkerSlot& s : slots_) active += !s.retiring && s.instance == instance ? 1 : 0;
  return active;
}

bool WorkerPool::HasIdle() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.Idle(); });
}

size_t WorkerPool::Active() const {
  size_t active = 0;
  for (const WorkerSlot& s : slots_) active += s.retiring ? 0 : 1;
  return active;
}

bool WorkerPool::AnyBusy() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.busy; });
}

std::optional<WorkerMessage> WorkerPool::Receive(WorkerSlot& slot) {
  if (!slot.fd) return std::nullopt;
  auto got = ReceiveMessage(slot.fd.get(), /*dont_wait=*/true);
  if (got.ok()) return *got;
  if (got.error().code == ErrorCode::kInvalidInput) {
    log::Get().error("supervisor: worker {} sent a bad frame ({}): killing it", slot.pid,
                     got.error().message);
    kill(slot.pid, SIGKILL);
    slot.killed = true;
    return std::nullopt;
  }
  // EOF or a socket error: the worker is gone; Reap() records the task from its exit status.
  slot.fd.reset();
  return std::nullopt;
}

void WorkerPool::Reap(const std::function<void(WorkerSlot&, const WorkerMessage&)>& on_message,
                      const std::function<void(WorkerSlot&, int status)>& on_end) {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = std::find_if(slots_.begin(), slots_.end(),
                           [pid](const WorkerSlot& s) { return s.pid == pid; });
    if (it == slots_.end()) continue;
    // Drain what it sent just before exiting.
    while (it->fd) {
      auto message = Receive(*it);
      if (!message) break;
      on_message(*it, *message);
    }
    it->fd.reset();
    on_end(*it, status);
    slots_.erase(it);
  }
}

void WorkerPool::CheckTimeouts(int64_t now_ms, const std::function<void(WorkerSlot&)>& on_timeout) {
  for (WorkerSlot& s : slots_) {
    if (s.busy && !s.killed && s.EffectiveDeadlineMs() <= now_ms) {
      on_timeout(s);
      kill(s.pid, SIGKILL);
      s.killed = true;
    }
  }
}

int64_t WorkerPool::MsToNextDeadline(int64_t now_ms, int64_t cap) const {
  int64_t out = cap;
  for (const WorkerSlot& s : slots_) {
    if (s.busy && !s.killed) out = std::min(out, s.EffectiveDeadlineMs() - now_ms);
  }
  return std::max<int64_t>(out, 0);
}

void WorkerPool::AddPollFds(std::vector<pollfd>* fds) const {
  for (const WorkerSlot& s : slots_) {
    if (s.fd) fds->push_back({s.fd.get(), POLLIN, 0});
  }
}

WorkerSlot* WorkerPool::ByFd(int fd) {
  for (WorkerSlot& s : slots_) {
    if (s.fd.get() == fd) return &s;
  }
  return nullptr;
}

}  // namespace threadmill::runtime
