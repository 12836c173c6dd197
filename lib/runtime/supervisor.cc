#include "runtime/supervisor.h"

#include <fcntl.h>
#include <poll.h>
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
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "common/chown_tree.h"
#include "common/privileges.h"
#include "common/wait_status.h"
#include "log/kv_line.h"
#include "log/logger.h"
#include "runtime/handler_registry.h"
#include "runtime/handler_status.h"
#include "runtime/housekeeping.h"
#include "runtime/job_queue.h"
#include "runtime/loader.h"
#include "runtime/runtime_config.h"
#include "runtime/worker.h"
#include "runtime/worker_pool.h"
#include "store/open_store.h"

namespace threadmill::runtime {
namespace {

// How long a new supervisor waits for a previous one (still stopping) to release the lock.
constexpr int64_t kLockWaitMs = 60 * 1000;
// Jobs waiting for a handler that is not loaded are reported this often (and at start and
// reload); at most this many queued jobs are looked at for it.
constexpr int64_t kWaitingReportMs = 60 * 1000;
constexpr size_t kWaitingScanLimit = 100000;

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

// A worker's end for its job's record: "crashed: signal 11 (...)", "worker exited with
// status 3".
std::string DescribeStatus(int status) {
  return (WIFSIGNALED(status) ? "crashed: " : "worker ") + DescribeWaitStatus(status);
}

class Supervisor {
 public:
  Supervisor(std::string config_path, std::shared_ptr<const config::Config> config, int lifeline_fd)
      : config_path_(std::move(config_path)),
        base_(std::move(config)),
        lifeline_fd_(lifeline_fd),
        daemon_pid_(getppid()) {}

  int Run();

 private:
  bool Setup();
  bool TakeLock();
  JobQueue* Queue();
  void CloseStore() {
    queue_.reset();
    env_.reset();
  }
  void SpawnWorkers();
  void DaemonGone();
  void Dispatch();
  int64_t LeaseSeconds(const std::map<std::string, size_t>& capacity) const;
  void DispatchHeartbeats();
  void OnMessage(WorkerSlot& slot, const WorkerMessage& message);
  void OnTaskEnd(WorkerSlot& slot);
  void OnWorkerEnd(WorkerSlot& slot, int status);
  void Reload();
  void ReportWaiting();
  void PublishLoaded();
  void BeginStop(const std::string& why, int64_t bound_ms);
  void Record(const std::string& id, const std::string& handler, const std::string& queue_id,
              uint32_t attempt, Outcome outcome, const std::string& reason);
  int PollTimeoutMs() const;
  void HandleSignals();

  std::string config_path_;
  std::shared_ptr<const config::Config> base_;
  std::shared_ptr<const RuntimeConfig> config_;
  std::shared_ptr<store::Environment> env_;
  std::unique_ptr<JobQueue> queue_;
  ModuleCatalog catalog_;     // the scanned module files (never loaded here)
  HandlerRegistry registry_;  // handler instances and the module each runs
  WorkerPool pool_;           // every handler's workers (WorkerSlot::instance)
  Housekeeping housekeeping_;
  std::map<std::string, int64_t> next_heartbeat_ms_;  // by handler
  std::map<std::string, uint64_t> heartbeats_;        // heartbeats started, by handler
  int64_t next_waiting_report_ms_ = 0;
  int64_t next_claim_error_ms_ = 0;  // repeated claim failures are logged once a minute
  // Jobs may wait for a handler that is not loaded: the last report found some, or a route
  // (of this or a refused configuration, which the daemon may route with) names one.
  bool may_wait_ = false;
  UniqueFd signal_fd_;
  UniqueFd wake_fd_;
  UniqueFd lock_fd_;
  UniqueFd lifeline_fd_;  // read end of a pipe the daemon holds open; EOF = the daemon died
  const pid_t daemon_pid_;  // the parent at start; another parent = the daemon died
  bool daemon_gone_ = false;
  bool stopping_ = false;
  bool stop_killed_ = false;  // the stop bound passed: the remaining workers were killed
  int64_t stop_deadline_ms_ = 0;
  int64_t next_due_s_ = INT64_MAX;  // earliest next_try of a queued job, as last seen
};

JobQueue* Supervisor::Queue() {
  if (queue_) return queue_.get();
  store::EnvOptions options = config_->store;
  options.sync_each_commit = true;  // job states are durable at once (nobody syncs for us)
  auto env = store::OpenStore(options);
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

// The daemon's privilege drop (common/privileges.h): hand the store to the service user (by
// descriptors, links not followed) and drop for good. A missing user refuses the start, as
// in the daemon: handlers never run as root unless [milter] user is "" explicitly.
bool DropPrivileges(const config::Config& config, const RuntimeConfig& rt) {
  auto plan = PlanPrivilegeDrop({config.milter.user, config.milter.group}, geteuid());
  if (!plan.ok()) {
    log::Get().critical("supervisor: refusing to start: {}", plan.error().message);
    return false;
  }
  if (plan->action == PrivilegePlan::Action::kStayRoot) {
    log::Get().warn("supervisor: running handlers as root: [milter] user is \"\"");
  }
  if (plan->action != PrivilegePlan::Action::kDrop) return true;
  auto chowned = ChownTree(rt.store_path, plan->uid, plan->gid);
  if (!chowned.ok()) {
    log::Get().critical("supervisor: refusing to start: cannot hand the store to user {}: {}",
                        plan->user, chowned.error().message);
    return false;
  }
  for (const std::string& skipped : chowned->skipped) {
    log::Get().warn("supervisor: store handed to user {}: {}", plan->user, skipped);
  }
  Status dropped = threadmill::DropPrivileges(*plan);
  if (!dropped.ok()) {
    log::Get().critical("supervisor: refusing to start: user {}: {}", plan->user,
                        dropped.error().message);
    return false;
  }
  return true;
}

bool Supervisor::TakeLock() {
  std::string lock_path = config_->spool_dir() + "/supervisor.lock";
  lock_fd_.reset(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!lock_fd_) {
    log::Get().critical("supervisor: cannot open {}: {}", lock_path, std::strerror(errno));
    return false;
  }
  // The lock is an flock on this open file: the kernel drops it when every descriptor of the
  // holder is closed, i.e. when it (and any child that inherited the descriptor; none does:
  // O_CLOEXEC, and workers close it) has died. A previous supervisor still stopping holds it
  // for at most its stop bound.
  int64_t deadline = NowMs() + kLockWaitMs;
  bool told = false;
  while (flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (NowMs() > deadline) {
      log::Get().critical("supervisor: another supervisor still holds {} after {} s; giving up",
                          lock_path, kLockWaitMs / 1000);
      return false;
    }
    if (!told) {
      log::Get().info("supervisor: waiting for the previous supervisor to release {}", lock_path);
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
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
  if (!DropPrivileges(*base_, *config_)) return false;
  mkdir(config_->spool_dir().c_str(), 0750);
  if (!TakeLock()) return false;

  std::string wake = JobQueue::WakePath(config_->spool_dir());
  struct stat st;
  if (lstat(wake.c_str(), &st) == 0 && !S_ISFIFO(st.st_mode)) unlink(wake.c_str());
  if (mkfifo(wake.c_str(), 0660) != 0 && errno != EEXIST) {
    log::Get().warn("supervisor: mkfifo {}: {}; polling only", wake, std::strerror(errno));
  }
  wake_fd_.reset(open(wake.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));

  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal_fd_.reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  signal(SIGPIPE, SIG_IGN);
  pool_.set_close_in_child({signal_fd_.get(), wake_fd_.get(), lock_fd_.get(), lifeline_fd_.get()});

  JobQueue* queue = Queue();
  if (!queue) return false;
  if (!Housekeeping::Recover(*queue, NowSeconds())) return false;
  CloseStore();  // the scan forks probes: never fork with an open LMDB environment
  catalog_ = ScanModules(config_->handlers_dir, LoaderOptions{});
  registry_ = BuildRegistry(*config_, catalog_);
  // `threadmill -n` and a reload refuse these (milter/handler_check.h); at start (a module
  // removed since the last check, a supervisor restarted) the route's jobs wait, reported.
  for (const std::string& problem : HandlerProblems(*config_, registry_)) {
    log::Get().error("supervisor: {}; its jobs wait", problem);
  }
  PublishLoaded();
  size_t workers = 0;
  for (const auto& [name, instance] : registry_.instances) workers += config_->workers_of(name);
  log::Get().info("supervisor {} started: {} handler(s), {} worker(s), spool {}", getpid(),
                  registry_.instances.size(), workers, config_->spool_dir());
  return true;
}

// Each handler has its own workers: [handler.NAME] workers, else [runtime] workers.
void Supervisor::SpawnWorkers() {
  if (stopping_) return;
  for (const auto& [name, instance] : registry_.instances) {
    size_t want = static_cast<size_t>(config_->workers_of(name));
    while (pool_.Active(name) < want) {
      CloseStore();  // never fork with an open LMDB environment
      auto config = config_;
      auto module = instance.module;
      const std::string& instance_name = name;
      bool spawned = pool_.Spawn(
          name, [&](int fd) { return RunWorker(fd, instance_name, module, config); },
          WorkerMemoryLimitBytes(config_->worker_memory_mb));
      if (!spawned) return;
    }
  }
}

void Supervisor::Record(const std::string& id, const std::string& handler,
                        const std::string& queue_id, uint32_t attempt, Outcome outcome,
                        const std::string& reason) {
  JobQueue* queue = Queue();
  std::string decision = outcome == Outcome::kDone ? "done" : "retry";
  if (queue) {
    RetryPolicy policy{config_->max_attempts, config_->retry_initial_seconds,
                       config_->retry_max_seconds, config_->auth.reauth_retry_seconds};
    auto job = queue->Finish(id, outcome, reason, NowSeconds(), policy);
    if (!job.ok()) {
      log::Get().error("job={} cannot record outcome: {}", id, job.error().message);
    } else {
      decision = job->state == JobState::kDone     ? "done"
                 : job->state == JobState::kParked ? "parked"
                 : outcome == Outcome::kDefer      ? "deferred"
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
  } else if (decision == "deferred") {  // the worker says why, once (reauth.h)
    log::Get().debug("{}", line.str());
  } else {
    log::Get().warn("{}", line.str());
  }
}

// How long jobs claimed from a shared queue stay leased to this host (store/job_backend.h):
// [store] job_lease_seconds, else the longest job timeout of the handlers claiming plus what
// a reinjection may add (OnMessage kReinjectStart) plus a margin, so a job never outlives
// its lease here.
int64_t Supervisor::LeaseSeconds(const std::map<std::string, size_t>& capacity) const {
  if (base_->store.job_lease_seconds > 0) return base_->store.job_lease_seconds;
  int64_t longest = 0;
  for (const auto& [handler, n] : capacity) {
    longest = std::max(longest, config_->job_timeout_of(handler));
  }
  const reply::ReplyConfig& r = config_->reply;
  return longest + r.sendmail_timeout_seconds + r.reinject_confirm_seconds + 10 + 30;
}

// Each handler's due jobs go to that handler's idle workers only: one handler's backlog or
// hung workers never hold back another's jobs (JobQueue::ClaimDue per handler).
void Supervisor::Dispatch() {
  if (stopping_) return;
  std::map<std::string, std::vector<WorkerSlot*>> idle;
  std::map<std::string, size_t> capacity;
  for (const auto& [name, instance] : registry_.instances) {
    std::vector<WorkerSlot*> slots = pool_.Idle(name);
    if (slots.empty()) continue;
    capacity[name] = slots.size();
    idle[name] = std::move(slots);
  }
  if (capacity.empty()) return;
  JobQueue* queue = Queue();
  if (!queue) return;
  auto jobs = queue->ClaimDue(NowSeconds(), capacity, LeaseSeconds(capacity));
  if (!jobs.ok()) {
    // A shared database away fails every poll: once a minute is enough to tell.
    if (NowMs() >= next_claim_error_ms_) {
      next_claim_error_ms_ = NowMs() + 60 * 1000;
      log::Get().error("supervisor: cannot claim jobs: {}", jobs.error().message);
    }
    return;
  }
  next_claim_error_ms_ = 0;
  auto next = queue->NextDue();  // for the poll time-out: sleep until the next retry is due
  next_due_s_ = next.ok() && *next ? **next : INT64_MAX;
  // A shared queue's due jobs may be ones this host cannot take now (their handler's workers
  // busy, or not loaded here): never ask the database again sooner than a second later.
  if (queue->shared() && next_due_s_ <= NowSeconds()) next_due_s_ = NowSeconds() + 1;
  for (const Job& job : *jobs) {
    std::vector<WorkerSlot*>& free = idle[job.handler];
    if (free.empty()) {  // never: ClaimDue keeps to the capacity; queue it again
      log::Get().error("job={} handler={}: claimed without an idle worker", job.id, job.handler);
      Record(job.id, job.handler, job.queue_id, job.attempts, Outcome::kRetry, "no-idle-worker");
      continue;
    }
    if (!job.taken_from.empty()) {
      log::Get().warn(
          "job={} handler={} queue_id={} decision=taken-over from={} (its lease expired)", job.id,
          job.handler, job.queue_id, job.taken_from);
    }
    WorkerSlot& slot = *free.back();
    free.pop_back();
    slot.busy = true;
    slot.job_id = job.id;
    slot.handler = job.handler;
    slot.queue_id = job.queue_id;
    slot.attempt = job.attempts;
    slot.heartbeat.clear();
    slot.deadline_ms = NowMs() + config_->job_timeout_of(job.handler) * 1000;
    slot.reinject_until_ms = 0;
    log::Get().debug("job={} handler={} attempt={} to worker {}", job.id, job.handler, job.attempts,
                     slot.pid);
    pool_.Send(slot, WorkerMessage::RunJob(job.id));
  }
  // Jobs for handlers that are not loaded stay queued (ReportWaiting tells).
}

// Queued jobs of handlers that are not loaded: one line per handler, at start, after each
// reload and then every kWaitingReportMs while there are any.
void Supervisor::ReportWaiting() {
  JobQueue* queue = Queue();
  if (!queue) return;
  auto queued = queue->List(kWaitingScanLimit, JobState::kQueued);
  if (!queued.ok()) return;
  std::map<std::string, size_t> waiting;
  for (const Job& job : *queued) {
    if (!registry_.Find(job.handler)) waiting[job.handler] += 1;
  }
  for (const auto& [handler, count] : waiting) {
    log::Get().warn(
        "supervisor: {} job(s) wait for handler={}, which is not loaded (routes or [handler.{}] "
        "module name it; `threadmillctl queue list` marks them)",
        count, handler, handler);
  }
  next_waiting_report_ms_ = NowMs() + kWaitingReportMs;
  may_wait_ = may_wait_ || !waiting.empty();
}

// <spool>/handlers.loaded: what threadmillctl shows next to waiting jobs.
void Supervisor::PublishLoaded() {
  std::vector<std::string> names;
  for (const auto& [name, instance] : registry_.instances) names.push_back(name);
  if (Status written = WriteLoadedHandlers(config_->spool_dir(), names); !written.ok()) {
    log::Get().warn("supervisor: {}", written.error().message);
  }
  may_wait_ = !HandlerProblems(*config_, registry_).empty();
  ReportWaiting();
}

void Supervisor::DispatchHeartbeats() {
  if (stopping_) return;
  int64_t now = NowMs();
  for (const auto& [name, instance] : registry_.instances) {
    if (!instance.module->has_heartbeat) continue;
    int64_t interval = config_->handler(name).heartbeat_seconds;
    if (interval < 0) interval = config_->heartbeat_seconds;
    if (interval <= 0) continue;
    auto it = next_heartbeat_ms_.find(name);
    if (it == next_heartbeat_ms_.end()) {
      next_heartbeat_ms_[name] = now + interval * 1000;
      continue;
    }
    if (it->second > now) continue;
    bool running = false;
    for (const WorkerSlot& s : pool_.slots()) running |= s.instance == name && !s.heartbeat.empty();
    if (running) continue;
    std::vector<WorkerSlot*> idle = pool_.Idle(name);
    if (idle.empty()) continue;
    WorkerSlot& s = *idle.front();
    s.busy = true;
    s.job_id.clear();
    s.handler = name;
    s.heartbeat = "heartbeat-" + name + "-" + std::to_string(++heartbeats_[name]);
    s.deadline_ms = now + config_->job_timeout_of(name) * 1000;
    s.reinject_until_ms = 0;
    it->second = now + interval * 1000;
    pool_.Send(s, WorkerMessage::RunHeartbeat(s.heartbeat));
  }
}

void Supervisor::OnMessage(WorkerSlot& slot, const WorkerMessage& message) {
  switch (message.type) {
    case MessageType::kReinjectStart: {
      // Never kill a worker while sendmail may be queueing its reply: give it its budget.
      // Bounded by what one reinjection may take (sendmail, then the wait for its echo).
      const reply::ReplyConfig& r = config_->reply;
      int64_t cap = r.sendmail_timeout_seconds + r.reinject_confirm_seconds + 10;
      int64_t budget = std::clamp<int64_t>(message.budget_seconds, 1, cap);
      slot.reinject_until_ms = NowMs() + budget * 1000;
      log::Get().debug("job={} worker {} reinjecting (budget {} s)", slot.job_id, slot.pid, budget);
      return;
    }
    case MessageType::kReinjectEnd:
      slot.reinject_until_ms = 0;
      return;
    case MessageType::kRetiring:  // it exits after this task's result: no new task for it
      slot.retiring = true;
      return;
    case MessageType::kResult:
      break;
    default:
      log::Get().warn("supervisor: worker {} sent {}; ignored", slot.pid, ToString(message.type));
      return;
  }
  if (!slot.busy) return;
  if (!slot.heartbeat.empty()) {
    if (message.outcome != Outcome::kDone) {
      log::Get().warn("heartbeat job={} handler={} decision={} reason={}", slot.heartbeat,
                      slot.handler, ToString(message.outcome), message.reason);
    } else {
      log::Get().debug("heartbeat job={} handler={} decision=done", slot.heartbeat, slot.handler);
    }
  } else {
    Record(slot.job_id, slot.handler, slot.queue_id, slot.attempt, message.outcome, message.reason);
  }
  OnTaskEnd(slot);
}

void Supervisor::OnTaskEnd(WorkerSlot& slot) {
  slot.busy = false;
  slot.job_id.clear();
  slot.heartbeat.clear();
  slot.reinject_until_ms = 0;
  slot.tasks += 1;
  if (slot.tasks >= static_cast<uint64_t>(config_->recycle_after_of(slot.instance)) &&
      !slot.retiring) {
    log::Get().info("supervisor: recycling worker {} of handler {} after {} jobs", slot.pid,
                    slot.instance, slot.tasks);
    slot.retiring = true;
  }
  if (slot.retiring || stopping_) {
    slot.retiring = true;
    pool_.Send(slot, WorkerMessage::Exit());
  }
}

void Supervisor::OnWorkerEnd(WorkerSlot& slot, int status) {
  if (slot.busy) {
    std::string reason =
        slot.killed
            ? "timeout after " + std::to_string(config_->job_timeout_of(slot.instance)) + "s"
            : DescribeStatus(status);
    if (stop_killed_) reason = "interrupted by stop";
    if (!slot.heartbeat.empty()) {
      log::Get().warn("heartbeat job={} handler={} decision=retry reason={}", slot.heartbeat,
                      slot.handler, reason);
    } else if (stop_killed_) {
      // Not the job's fault: Run() queues it again, due now, for the next supervisor.
      log::Get().warn("job={} handler={} queue_id={} decision=requeued reason={}", slot.job_id,
                      slot.handler, slot.queue_id, reason);
    } else {
      Record(slot.job_id, slot.handler, slot.queue_id, slot.attempt, Outcome::kRetry, reason);
    }
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitMemory) {
    log::Get().info("supervisor: worker {} recycled: over worker_memory_mb = {}", slot.pid,
                    config_->worker_memory_mb);
  } else if (!slot.retiring && !stopping_) {
    log::Get().warn("supervisor: idle worker {} ended ({})", slot.pid, DescribeStatus(status));
  }
}

// What workers see of the configuration besides their own [handler.NAME]: a change restarts
// every handler's workers.
std::string SharedFingerprint(const config::Config& config) {
  toml::table copy = config.document;
  copy.erase("handler");
  copy.erase("routes");
  std::ostringstream out;
  out << toml::json_formatter{copy};
  return out.str();
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
    copy->store.path = config_->store.path;
    rt = copy;
  }
  CloseStore();  // the scan forks probes: never fork with an open LMDB environment
  ModuleCatalog catalog = ScanModules(rt->handlers_dir, LoaderOptions{}, &catalog_);
  HandlerRegistry registry = BuildRegistry(*rt, catalog);
  std::vector<std::string> problems = HandlerProblems(*rt, registry);
  if (!problems.empty()) {
    for (const std::string& problem : problems) {
      log::Get().error(
          "supervisor: reload refused, keeping the current configuration and "
          "handlers: {}",
          problem);
    }
    may_wait_ = true;
    ReportWaiting();
    return;
  }
  bool shared_changed = SharedFingerprint(*fresh) != SharedFingerprint(*base_);
  std::set<std::string> names;
  for (const auto& [name, instance] : registry_.instances) names.insert(name);
  for (const auto& [name, instance] : registry.instances) names.insert(name);
  for (const std::string& name : names) {
    const HandlerInstance* before = registry_.Find(name);
    const HandlerInstance* after = registry.Find(name);
    std::string what, why;
    if (!before) {
      what = "added";
    } else if (!after) {
      what = "removed";
    } else if (before->module != after->module) {
      what = "changed";
      why = before->module->path != after->module->path ? "other module file" : "module file";
    } else if (config_->handler(name).config_json != rt->handler(name).config_json) {
      what = "changed";
      why = "[handler." + name + "]";
    } else if (shared_changed) {
      what = "changed";
      why = "configuration";
    } else {
      what = "unchanged";
    }
    log::KvLine line;
    line.Add("handler", name).Add("reload", what);
    if (after) line.Add("module", after->module->path);
    if (!why.empty()) line.Add("why", why);
    log::Get().info("supervisor: {}", line.str());
    if (what == "unchanged") continue;
    // Idle workers exit now, busy ones after their job (it finishes on the code it started
    // with, and is recorded once); new workers load the new module.
    pool_.RetireInstance(name);
    next_heartbeat_ms_.erase(name);
  }
  base_ = fresh;
  config_ = rt;
  CloseStore();  // the next use opens the store with the new [store] options
  catalog_ = std::move(catalog);
  registry_ = std::move(registry);
  PublishLoaded();
  log::Get().info("supervisor: reloaded: {} handler(s)", registry_.instances.size());
}

void Supervisor::BeginStop(const std::string& why, int64_t bound_ms) {
  if (stopping_) {
    stop_deadline_ms_ = std::min(stop_deadline_ms_, NowMs() + bound_ms);
    return;
  }
  log::Get().info("supervisor: stopping ({}); running jobs get {} ms", why, bound_ms);
  stopping_ = true;
  stop_deadline_ms_ = NowMs() + bound_ms;
  for (WorkerSlot& s : pool_.slots()) {
    if (!s.busy) pool_.Retire(s);
  }
}

int Supervisor::PollTimeoutMs() const {
  int64_t now = NowMs();
  if (stopping_) return static_cast<int>(std::clamp<int64_t>(stop_deadline_ms_ - now, 1, 100));
  int64_t timeout = pool_.MsToNextDeadline(now, config_->poll_interval_ms);
  for (const auto& [name, at] : next_heartbeat_ms_) {
    timeout = std::min(timeout, std::max<int64_t>(0, at - now));
  }
  int64_t now_s = NowSeconds();
  timeout = std::min(timeout, housekeeping_.SecondsToNextSweep(now_s) * 1000);
  if (next_due_s_ != INT64_MAX && pool_.HasIdle()) {
    timeout = std::min(timeout, std::max<int64_t>(0, next_due_s_ - now_s) * 1000);
  }
  return static_cast<int>(std::max<int64_t>(timeout, 1));
}

// The daemon died (kill -9, crash): stop at once; running jobs are queued again.
void Supervisor::DaemonGone() {
  lifeline_fd_.reset();
  if (daemon_gone_) return;  // told already (the lifeline's EOF and PR_SET_PDEATHSIG)
  daemon_gone_ = true;
  log::Get().warn("supervisor: the daemon is gone; stopping now");
  BeginStop("daemon gone", 0);
}

void Supervisor::HandleSignals() {
  signalfd_siginfo info;
  while (read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGTERM && getppid() != daemon_pid_) {
      // PR_SET_PDEATHSIG: the daemon died, possibly before its lifeline's EOF shows (another
      // process may hold the pipe a moment longer).
      DaemonGone();
    } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      BeginStop("signal " + std::to_string(sig), config_->stop_timeout_seconds * 1000);
    } else if (sig == SIGUSR1 && !stopping_) {
      Reload();
    }
  }
}

int Supervisor::Run() {
  if (!Setup()) return 1;
  for (;;) {
    pool_.Reap([this](WorkerSlot& s, const WorkerMessage& m) { OnMessage(s, m); },
               [this](WorkerSlot& s, int status) { OnWorkerEnd(s, status); });
    if (stopping_) {
      if (pool_.empty()) break;
      if (NowMs() > stop_deadline_ms_ && !stop_killed_) {
        stop_killed_ = true;
        pool_.KillAll();
      }
    } else {
      SpawnWorkers();
      if (JobQueue* queue = Queue()) housekeeping_.Push(*queue, NowMs());
      Dispatch();
      DispatchHeartbeats();
      if (JobQueue* queue = Queue()) {
        housekeeping_.Sweep(*queue, env_, *config_, *base_, NowSeconds());
      }
      if (may_wait_ && NowMs() >= next_waiting_report_ms_) ReportWaiting();
    }
    std::vector<pollfd> fds;
    fds.push_back({signal_fd_.get(), POLLIN, 0});
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({lifeline_fd_.get(), POLLIN, 0});
    pool_.AddPollFds(&fds);
    int rc = poll(fds.data(), fds.size(), PollTimeoutMs());
    if (rc < 0 && errno != EINTR) {
      log::Get().error("supervisor: poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (rc > 0 && (fds[0].revents & POLLIN)) HandleSignals();
    if (rc > 0 && wake_fd_ && (fds[1].revents & POLLIN)) {
      char drain[256];
      while (read(wake_fd_.get(), drain, sizeof drain) > 0) {
      }
    }
    if (rc > 0 && lifeline_fd_ && fds[2].revents) DaemonGone();
    for (size_t i = 3; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      WorkerSlot* slot = pool_.ByFd(fds[i].fd);
      if (!slot) continue;
      while (auto message = pool_.Receive(*slot)) OnMessage(*slot, *message);
    }
    pool_.CheckTimeouts(NowMs(), [this](WorkerSlot& s) {
      log::Get().warn("job={} handler={} worker {} exceeded {}s: killing it",
                      s.job_id.empty() ? s.heartbeat : s.job_id, s.handler, s.pid,
                      config_->job_timeout_of(s.instance));
    });
  }
  if (JobQueue* queue = Queue()) {
    auto left = queue->RecoverRunning(NowSeconds());
    if (left.ok() && *left)
      log::Get().info("supervisor: {} interrupted job(s) queued again", *left);
  }
  log::Get().info("supervisor: stopped");
  CloseStore();
  return 0;
}

}  // namespace

int RunSupervisor(const std::string& config_path, std::shared_ptr<const config::Config> config,
                  int lifeline_fd) {
  Supervisor supervisor(config_path, std::move(config), lifeline_fd);
  return supervisor.Run();
}

Result<SupervisorHandle> StartSupervisor(const std::string& config_path,
                                         std::shared_ptr<const config::Config> config) {
  UniqueFd lifeline_read, lifeline_write;
  if (!MakePipe(&lifeline_read, &lifeline_write)) {
    return MakeError(ErrorCode::kInternal, std::string("pipe: ") + strerror(errno));
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
  if (pid < 0) {
    return MakeError(ErrorCode::kInternal, std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);
    prctl(PR_SET_NAME, "threadmill-sup");
    lifeline_write.reset();
    int rc = 1;
    try {
      rc = RunSupervisor(config_path, config, lifeline_read.release());
    } catch (const std::exception& e) {
      log::Get().critical("supervisor: {}", e.what());
    }
    _exit(rc);
  }
  lifeline_read.reset();
  return SupervisorHandle{pid, std::move(lifeline_write)};
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
      status = -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(handle->pid, SIGKILL);
      waitpid(handle->pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  handle->pid = -1;
  handle->lifeline_fd.reset();
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace threadmill::runtime
