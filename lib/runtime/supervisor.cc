#include "runtime/supervisor.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "log/kv_line.h"
#include "log/logger.h"
#include "reply/ledger.h"
#include "runtime/job_queue.h"
#include "runtime/loader.h"
#include "runtime/runtime_config.h"
#include "runtime/worker.h"

namespace threadmill::runtime {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "crashed: signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "worker exited with status " + std::to_string(WEXITSTATUS(status));
  return "worker ended";
}

struct Slot {
  pid_t pid = -1;
  int fd = -1;
  bool busy = false;
  bool retiring = false;  // exit after the current task
  bool killed = false;    // SIGKILLed for a time-out
  std::string job_id;     // current job ("" for a heartbeat)
  std::string handler;
  std::string queue_id;
  uint32_t attempt = 0;
  std::string heartbeat;  // current heartbeat's handler
  int64_t deadline_ms = 0;
  uint64_t tasks = 0;
};

class Supervisor {
 public:
  Supervisor(std::string config_path, std::shared_ptr<const config::Config> config)
      : config_path_(std::move(config_path)), base_(std::move(config)) {}

  int Run();

 private:
  bool Setup();
  JobQueue* Queue();
  void CloseStore() {
    queue_.reset();
    env_.reset();
  }
  void SpawnWorkers();
  bool Spawn();
  void Dispatch();
  void DispatchHeartbeats();
  void HandleWorker(Slot& slot);
  void Reap();
  void CheckTimeouts();
  void Reload();
  void Record(const std::string& id, const std::string& handler, const std::string& queue_id,
              uint32_t attempt, Outcome outcome, const std::string& reason);
  void Send(Slot& slot, const std::string& msg);
  void Retire(Slot& slot);
  void Sweep();
  int PollTimeoutMs() const;

  std::string config_path_;
  std::shared_ptr<const config::Config> base_;
  std::shared_ptr<const RuntimeConfig> config_;
  std::shared_ptr<store::Environment> env_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<ModuleSet> modules_;
  std::vector<Slot> slots_;
  std::map<std::string, int64_t> next_heartbeat_ms_;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  int lock_fd_ = -1;
  bool stopping_ = false;
  int64_t stop_deadline_ms_ = 0;
  int64_t next_sweep_s_ = 0;
};

JobQueue* Supervisor::Queue() {
  if (queue_) return queue_.get();
  store::EnvOptions options;
  options.path = config_->store_path;
  options.map_size_bytes = static_cast<size_t>(base_->store.map_size_mb) << 20;
  options.max_map_size_bytes = static_cast<size_t>(base_->store.max_map_size_mb) << 20;
  auto env = store::Environment::Open(options);
  if (!env.ok()) {
    log::Get().error("supervisor: cannot open the store at {}: {}", options.path,
                     env.error().message);
    return nullptr;
  }
  env_ = *env;
  try {
    queue_ = std::make_unique<JobQueue>(env_, config_->spool_dir());
  } catch (const std::exception& e) {
    log::Get().error("supervisor: {}", e.what());
    env_.reset();
    return nullptr;
  }
  return queue_.get();
}

void DropPrivileges(const config::Config& config, const RuntimeConfig& rt) {
  if (geteuid() != 0 || config.milter.user.empty()) return;
  passwd* pw = getpwnam(config.milter.user.c_str());
  if (!pw) {
    log::Get().error("supervisor: user {} does not exist; staying root", config.milter.user);
    return;
  }
  gid_t gid = pw->pw_gid;
  if (!config.milter.group.empty()) {
    if (group* gr = getgrnam(config.milter.group.c_str())) gid = gr->gr_gid;
  }
  std::error_code ec;
  std::filesystem::create_directories(rt.store_path, ec);
  if (chown(rt.store_path.c_str(), pw->pw_uid, gid) != 0) {
    log::Get().warn("supervisor: chown {}: {}", rt.store_path, std::strerror(errno));
  }
  for (auto it = std::filesystem::recursive_directory_iterator(rt.store_path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (lchown(it->path().c_str(), pw->pw_uid, gid) != 0) {
      log::Get().warn("supervisor: chown {}: {}", it->path().string(), std::strerror(errno));
    }
  }
  if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
    log::Get().critical("supervisor: cannot drop privileges to {}: {}", config.milter.user,
                        std::strerror(errno));
    _exit(1);
  }
}

bool Supervisor::Setup() {
  try {
    config_ = std::make_shared<RuntimeConfig>(ParseRuntimeConfig(*base_));
  } catch (const std::exception& e) {
    log::Get().critical("supervisor: configuration error: {}", e.what());
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(config_->store_path, ec);
  DropPrivileges(*base_, *config_);
  mkdir(config_->spool_dir().c_str(), 0750);

  std::string lock_path = config_->spool_dir() + "/supervisor.lock";
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd_ < 0) {
    log::Get().critical("supervisor: cannot open {}: {}", lock_path, std::strerror(errno));
    return false;
  }
  bool locked = false;
  for (int i = 0; i < 300 && !locked; ++i) {
    locked = flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!locked) {
    log::Get().critical("supervisor: another supervisor holds {}", lock_path);
    return false;
  }

  std::string wake = JobQueue::WakePath(config_->spool_dir());
  struct stat st;
  if (lstat(wake.c_str(), &st) == 0 && !S_ISFIFO(st.st_mode)) unlink(wake.c_str());
  if (mkfifo(wake.c_str(), 0660) != 0 && errno != EEXIST) {
    log::Get().warn("supervisor: mkfifo {}: {}; polling only", wake, std::strerror(errno));
  }
  wake_fd_ = open(wake.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);

  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);

  JobQueue* queue = Queue();
  if (!queue) return false;
  auto recovered = queue->RecoverRunning(NowSeconds());
  if (recovered.ok() && *recovered > 0) {
    log::Get().info("supervisor: {} interrupted job(s) queued again", *recovered);
  }
  modules_ = std::make_unique<ModuleSet>(LoadModules(config_->handlers_dir));
  for (const auto& route : config_->routes) {
    if (!modules_->Find(route.handler)) {
      log::Get().warn("route {} names handler {} which is not loaded; its jobs wait", route.pattern,
                      route.handler);
    }
  }
  log::Get().info("supervisor {} started: {} handler(s), {} worker(s), spool {}", getpid(),
                  modules_->modules.size(), config_->workers, config_->spool_dir());
  return true;
}

bool Supervisor::Spawn() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    log::Get().error("supervisor: socketpair: {}", std::strerror(errno));
    return false;
  }
  CloseStore();  // never fork with an open LMDB environment
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    log::Get().error("supervisor: fork: {}", std::strerror(errno));
    close(sv[0]);
    close(sv[1]);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    close(sv[0]);
    for (const Slot& s : slots_) {
      if (s.fd >= 0) close(s.fd);
    }
    if (signal_fd_ >= 0) close(signal_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (lock_fd_ >= 0) close(lock_fd_);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    int rc = RunWorker(sv[1], *modules_, config_);
    _exit(rc);
  }
  close(sv[1]);
  Slot slot;
  slot.pid = pid;
  slot.fd = sv[0];
  slots_.push_back(slot);
  log::Get().debug("supervisor: worker {} started", pid);
  return true;
}

void Supervisor::SpawnWorkers() {
  if (stopping_) return;
  size_t active = 0;
  for (const Slot& s : slots_) active += s.retiring ? 0 : 1;
  while (active < static_cast<size_t>(config_->workers)) {
    if (!Spawn()) break;
    ++active;
  }
}

void Supervisor::Send(Slot& slot, const std::string& msg) {
  if (send(slot.fd, msg.data(), msg.size(), MSG_NOSIGNAL) < 0) {
    log::Get().warn("supervisor: worker {} unreachable: {}", slot.pid, std::strerror(errno));
    kill(slot.pid, SIGKILL);
    slot.killed = true;
  }
}

void Supervisor::Retire(Slot& slot) {
  slot.retiring = true;
  if (!slot.busy) Send(slot, "X");
}

void Supervisor::Record(const std::string& id, const std::string& handler,
                        const std::string& queue_id, uint32_t attempt, Outcome outcome,
                        const std::string& reason) {
  JobQueue* queue = Queue();
  std::string decision = outcome == Outcome::kDone ? "done" : "retry";
  if (queue) {
    RetryPolicy policy{config_->max_attempts, config_->retry_initial_seconds,
                       config_->retry_max_seconds};
    auto job = queue->Finish(id, outcome, reason, NowSeconds(), policy);
    if (!job.ok()) {
      log::Get().error("job={} cannot record outcome: {}", id, job.error().message);
    } else {
      decision = job->state == JobState::kDone     ? "done"
                 : job->state == JobState::kParked ? "parked"
                                                   : "retry";
    }
  }
  log::KvLine line;
  line.Add("job", id)
      .Add("handler", handler)
      .Add("queue_id", queue_id)
      .Add("attempt", static_cast<int64_t>(attempt))
      .Add("decision", decision)
      .Add("reason", reason);
  if (decision == "done") {
    log::Get().info("{}", line.str());
  } else {
    log::Get().warn("{}", line.str());
  }
}

void Supervisor::Dispatch() {
  if (stopping_) return;
  std::vector<Slot*> idle;
  for (Slot& s : slots_) {
    if (!s.busy && !s.retiring && !s.killed) idle.push_back(&s);
  }
  if (idle.empty()) return;
  JobQueue* queue = Queue();
  if (!queue) return;
  auto jobs = queue->ClaimDue(NowSeconds(), idle.size(), [&](const Job& job) {
    return modules_->Find(job.handler) != nullptr;
  });
  if (!jobs.ok()) {
    log::Get().error("supervisor: cannot claim jobs: {}", jobs.error().message);
    return;
  }
  for (size_t i = 0; i < jobs->size(); ++i) {
    const Job& job = (*jobs)[i];
    Slot& slot = *idle[i];
    slot.busy = true;
    slot.job_id = job.id;
    slot.handler = job.handler;
    slot.queue_id = job.queue_id;
    slot.attempt = job.attempts;
    slot.heartbeat.clear();
    slot.deadline_ms = NowMs() + config_->job_timeout_seconds * 1000;
    log::Get().debug("job={} handler={} attempt={} to worker {}", job.id, job.handler, job.attempts,
                     slot.pid);
    Send(slot, "J " + job.id);
  }
  // Jobs for handlers that are not loaded stay queued; report them now and then.
}

void Supervisor::DispatchHeartbeats() {
  if (stopping_) return;
  int64_t now = NowMs();
  for (const auto& module : modules_->modules) {
    if (!module->on_heartbeat()) continue;
    int64_t interval = config_->handler(module->name()).heartbeat_seconds;
    if (interval < 0) interval = config_->heartbeat_seconds;
    if (interval <= 0) continue;
    auto it = next_heartbeat_ms_.find(module->name());
    if (it == next_heartbeat_ms_.end()) {
      next_heartbeat_ms_[module->name()] = now + interval * 1000;
      continue;
    }
    if (it->second > now) continue;
    bool running = false;
    for (const Slot& s : slots_) running |= s.heartbeat == module->name();
    if (running) continue;
    for (Slot& s : slots_) {
      if (s.busy || s.retiring || s.killed) continue;
      s.busy = true;
      s.job_id.clear();
      s.handler = module->name();
      s.heartbeat = module->name();
      s.deadline_ms = now + config_->job_timeout_seconds * 1000;
      it->second = now + interval * 1000;
      Send(s, "H " + module->name());
      break;
    }
  }
}

void Supervisor::HandleWorker(Slot& slot) {
  char buf[512];
  ssize_t n = recv(slot.fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // EOF: the worker is gone; Reap() records the job from its exit status.
    close(slot.fd);
    slot.fd = -1;
    return;
  }
  std::string msg(buf, static_cast<size_t>(n));
  if (msg.rfind("K ", 0) == 0) {
    // The worker is reinjecting a reply (worker.h): never kill it in the middle; bounded by
    // what one reinjection may take.
    const reply::ReplyConfig& r = config_->reply;
    int64_t cap = r.sendmail_timeout_seconds + r.reinject_confirm_seconds + 10;
    int64_t seconds = std::clamp<int64_t>(std::atoll(msg.c_str() + 2), 0, cap);
    if (slot.busy && !slot.killed) {
      slot.deadline_ms = std::max(slot.deadline_ms, NowMs() + seconds * 1000);
    }
    HandleWorker(slot);  // a result may follow in the same wake-up
    return;
  }
  if (msg.rfind("R ", 0) != 0 || !slot.busy) return;
  std::string rest = msg.substr(2);
  size_t space = rest.find(' ');
  std::string outcome = rest.substr(0, space);
  std::string reason = space == std::string::npos ? "" : rest.substr(space + 1);
  if (!slot.heartbeat.empty()) {
    if (outcome != "done") {
      log::Get().warn("heartbeat handler={} decision={} reason={}", slot.heartbeat, outcome,
                      reason);
    } else {
      log::Get().debug("heartbeat handler={} decision=done", slot.heartbeat);
    }
  } else {
    Outcome o = outcome == "done"   ? Outcome::kDone
                : outcome == "park" ? Outcome::kPark
                                    : Outcome::kRetry;
    Record(slot.job_id, slot.handler, slot.queue_id, slot.attempt, o, reason);
  }
  slot.busy = false;
  slot.job_id.clear();
  slot.heartbeat.clear();
  slot.tasks += 1;
  if (slot.tasks >= static_cast<uint64_t>(config_->recycle_after_jobs)) {
    log::Get().info("supervisor: recycling worker {} after {} jobs", slot.pid, slot.tasks);
    slot.retiring = true;
  }
  if (slot.retiring || stopping_) Send(slot, "X");
}

void Supervisor::Reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      if (slot.pid != pid) continue;
      if (slot.fd >= 0) {
        // Drain a result sent just before exiting.
        HandleWorker(slot);
        if (slot.fd >= 0) close(slot.fd);
      }
      if (slot.busy) {
        std::string reason =
            slot.killed ? "timeout after " + std::to_string(config_->job_timeout_seconds) + "s"
                        : DescribeStatus(status);
        if (!slot.heartbeat.empty()) {
          log::Get().warn("heartbeat handler={} decision=retry reason={}", slot.heartbeat, reason);
        } else {
          Record(slot.job_id, slot.handler, slot.queue_id, slot.attempt, Outcome::kRetry, reason);
        }
      } else if (!slot.retiring && !stopping_) {
        log::Get().warn("supervisor: idle worker {} ended ({})", pid, DescribeStatus(status));
      }
      slots_.erase(slots_.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
  }
}

void Supervisor::CheckTimeouts() {
  int64_t now = NowMs();
  for (Slot& s : slots_) {
    if (s.busy && !s.killed && s.deadline_ms <= now) {
      log::Get().warn("job={} handler={} worker {} exceeded {}s: killing it", s.job_id, s.handler,
                      s.pid, config_->job_timeout_seconds);
      kill(s.pid, SIGKILL);
      s.killed = true;
    }
  }
}

void Supervisor::Reload() {
  std::shared_ptr<const config::Config> fresh;
  std::shared_ptr<const RuntimeConfig> rt;
  try {
    fresh = config::Load(config_path_);
    rt = std::make_shared<RuntimeConfig>(ParseRuntimeConfig(*fresh));
  } catch (const std::exception& e) {
    log::Get().error("supervisor: reload failed, keeping the current configuration: {}", e.what());
    return;
  }
  if (rt->store_path != config_->store_path) {
    log::Get().warn("supervisor: store.path changes need a restart; ignored");
    auto copy = std::make_shared<RuntimeConfig>(*rt);
    copy->store_path = config_->store_path;
    rt = copy;
  }
  base_ = fresh;
  config_ = rt;
  auto modules = std::make_unique<ModuleSet>(LoadModules(config_->handlers_dir));
  modules_ = std::move(modules);  // workers keep their own copies until they exit
  next_heartbeat_ms_.clear();
  for (Slot& s : slots_) Retire(s);
  log::Get().info("supervisor: reloaded: {} handler(s), {} worker(s)", modules_->modules.size(),
                  config_->workers);
}

void Supervisor::Sweep() {
  int64_t now = NowSeconds();
  if (now < next_sweep_s_) return;
  next_sweep_s_ = now + 3600;
  JobQueue* queue = Queue();
  if (!queue) return;
  auto swept = queue->SweepDone(now - config_->done_retention_seconds);
  if (swept.ok() && *swept) log::Get().info("supervisor: {} finished job(s) swept", *swept);
  reply::ReplyLedger ledger(env_);
  auto removed = ledger.Sweep(now - base_->store.retention_days * 86400);
  if (removed.ok() && *removed) log::Get().info("supervisor: {} reply record(s) swept", *removed);
}

int Supervisor::PollTimeoutMs() const {
  int64_t timeout = config_->poll_interval_ms;
  int64_t now = NowMs();
  for (const Slot& s : slots_) {
    if (s.busy && !s.killed) timeout = std::min(timeout, std::max<int64_t>(0, s.deadline_ms - now));
  }
  for (const auto& [name, at] : next_heartbeat_ms_) {
    timeout = std::min(timeout, std::max<int64_t>(0, at - now));
  }
  return static_cast<int>(std::max<int64_t>(timeout, 1));
}

int Supervisor::Run() {
  if (!Setup()) return 1;
  for (;;) {
    Reap();
    if (stopping_) {
      bool busy = false;
      for (const Slot& s : slots_) busy |= s.busy;
      if (slots_.empty()) break;
      if (!busy) {
        for (Slot& s : slots_) {
          if (!s.retiring) Retire(s);
        }
      }
      if (NowMs() > stop_deadline_ms_) {
        for (Slot& s : slots_) kill(s.pid, SIGKILL);
      }
    } else {
      SpawnWorkers();
      Dispatch();
      DispatchHeartbeats();
      Sweep();
    }
    std::vector<pollfd> fds;
    fds.push_back({signal_fd_, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    for (const Slot& s : slots_) fds.push_back({s.fd, POLLIN, 0});
    int rc = poll(fds.data(), fds.size(), stopping_ ? 100 : PollTimeoutMs());
    if (rc < 0 && errno != EINTR) {
      log::Get().error("supervisor: poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (rc > 0 && (fds[0].revents & POLLIN)) {
      signalfd_siginfo info;
      while (read(signal_fd_, &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
          if (!stopping_) {
            log::Get().info("supervisor: stopping (signal {})", sig);
            stopping_ = true;
            stop_deadline_ms_ = NowMs() + config_->job_timeout_seconds * 1000;
          }
        } else if (sig == SIGUSR1) {
          Reload();
        }
      }
    }
    if (rc > 0 && wake_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      char drain[256];
      while (read(wake_fd_, drain, sizeof drain) > 0) {
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      for (Slot& s : slots_) {
        if (s.fd == fds[i].fd) {
          HandleWorker(s);
          break;
        }
      }
    }
    CheckTimeouts();
  }
  log::Get().info("supervisor: stopped");
  CloseStore();
  return 0;
}

}  // namespace

int RunSupervisor(const std::string& config_path, std::shared_ptr<const config::Config> config) {
  Supervisor supervisor(config_path, std::move(config));
  return supervisor.Run();
}

Result<SupervisorHandle> StartSupervisor(const std::string& config_path,
                                         std::shared_ptr<const config::Config> config) {
  try {
    (void)ParseRuntimeConfig(*config);  // report configuration errors in the daemon
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidInput, e.what());
  }
  // The child is born with TERM/INT/USR1 blocked, so a signal sent right after the fork waits
  // for the supervisor's own handling instead of killing it with the default action.
  sigset_t block, previous;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &previous);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) return MakeError(ErrorCode::kInternal, std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);
    prctl(PR_SET_NAME, "threadmill-sup");
    int rc = 1;
    try {
      rc = RunSupervisor(config_path, config);
    } catch (const std::exception& e) {
      log::Get().critical("supervisor: {}", e.what());
    }
    _exit(rc);
  }
  return SupervisorHandle{pid};
}

void ForwardSignal(const SupervisorHandle& handle, int sig) {
  if (handle.pid > 0) kill(handle.pid, sig);
}

int StopSupervisor(SupervisorHandle* handle, int timeout_seconds) {
  if (!handle || handle->pid <= 0) return -1;
  kill(handle->pid, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  for (;;) {
    pid_t r = waitpid(handle->pid, &status, WNOHANG);
    if (r == handle->pid) break;
    if (r < 0 && errno != EINTR) {
      handle->pid = -1;
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(handle->pid, SIGKILL);
      waitpid(handle->pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  handle->pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace threadmill::runtime
