#include "runtime/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <string>

#include "log/logger.h"
#include "runtime/host.h"
#include "runtime/job_queue.h"
#include "runtime/reauth.h"
#include "runtime/worker_pool.h"
#include "runtime/worker_protocol.h"
#include "store/open_store.h"

namespace threadmill::runtime {
namespace {

class Worker {
 public:
  Worker(std::string instance, std::shared_ptr<const ModuleFile> file,
         std::shared_ptr<const RuntimeConfig> config, std::function<void(int64_t)> busy)
      : instance_(std::move(instance)),
        file_(std::move(file)),
        config_(std::move(config)),
        busy_(std::move(busy)) {}

  bool Open(const LoaderOptions& options) {
    store::EnvOptions store_options = config_->store;
    store_options.sync_each_commit = true;  // a worker's records (ledger, kv) are durable at once
    auto env = store::OpenStore(store_options);
    if (!env.ok()) {
      log::Get().error("worker {}: cannot open the store: {}", getpid(), env.error().message);
      return false;
    }
    services_ = HostServices::Create(*env, config_, busy_);
    queue_ = std::make_unique<JobQueue>(*env, config_->spool_dir());
    // This worker's one module, loaded fresh from the supervisor's checked descriptor.
    if (!file_) {
      load_error_ = "no module";
      return true;
    }
    auto loaded = LoadModuleFile(*file_, options);
    if (!loaded.ok()) {
      load_error_ = loaded.error().message;
      log::Get().error("handler={} worker {}: cannot load {}: {}", instance_, getpid(), file_->path,
                       load_error_);
      return true;  // answers every task with the reason (retried, then parked)
    }
    module_ = std::move(*loaded);
    module_->set_instance(instance_);
    return true;
  }

  // Returns "outcome reason".
  std::string RunJob(const std::string& id) {
    auto job = queue_->Get(id);
    if (!job.ok()) return "retry store: " + job.error().message;
    if (!job->has_value()) return "park job-missing";
    Job& j = **job;
    if (j.handler != instance_) return "retry handler-not-loaded";
    if (!module_) return "retry module-not-loaded: " + load_error_;
    if (j.kind == kDraftDecisionJob) return RunDraftDecision(j);
    auto raw = queue_->ReadMessage(j);
    if (!raw.ok()) return "park spool-file: " + raw.error().message;
    // A verdict that waited for DNS is settled before the handler sees it (reauth.h).
    if (Reauth(&j, *raw) == ReauthStep::kDefer) return "defer dns-temperror";
    if (!Init()) return "retry init-failed";
    InboundMessage message(j, std::move(*raw), services_->replier.get());
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module_.get();
    ctx.state = state_;
    ctx.job = &j;
    ctx.message = &message;
    int rc = module_->table()->on_inbound(&ctx, message.envelope());
    if (!ctx.park_reason.empty()) return "park " + ctx.park_reason;
    std::string detail = ctx.last_error.empty() ? "" : ": " + ctx.last_error;
    switch (rc) {
      case THREADMILL_OK:
        return "done ";
      case THREADMILL_RETRY:
        return "retry handler-retry" + detail;
      case THREADMILL_FAIL:
        return "park handler-fail" + detail;
      default:
        return "retry handler-status-" + std::to_string(rc) + detail;
    }
  }

  // `task` names this heartbeat in log lines ("heartbeat-NAME-N").
  std::string RunHeartbeat(const std::string& task) {
    if (!module_) return "retry module-not-loaded: " + load_error_;
    if (!module_->on_heartbeat()) return "park no-heartbeat";
    if (!Init()) return "retry init-failed";
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module_.get();
    ctx.state = state_;
    ctx.task_id = task;
    int rc = module_->on_heartbeat()(&ctx);
    return rc == THREADMILL_OK ? "done " : "retry heartbeat-status-" + std::to_string(rc);
  }

  // A draft-decision job (runtime/drafts.h): on_draft_decision when the module has it.
  std::string RunDraftDecision(const Job& j) {
    if (!module_->on_draft_decision()) return "done ";
    auto draft = services_->drafts->Get(j.draft_id);
    if (!draft.ok()) return "retry store: " + draft.error().message;
    if (!draft->has_value()) return "park draft-missing";
    if (!Init()) return "retry init-failed";
    auto call = MakeDecision(std::move(**draft));
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module_.get();
    ctx.state = state_;
    ctx.job = &j;
    int rc = module_->on_draft_decision()(&ctx, &call->decision);
    return rc == THREADMILL_RETRY ? "retry handler-retry" : "done ";
  }

  ReauthStep Reauth(Job* job, std::string_view raw) {
    if (!NeedsReauth(*job) || job->reauth == "done" || job->reauth == "expired") {
      return ReauthStep::kProceed;
    }
    if (!reauth_ && !reauth_tried_ && config_->auth.enabled) {
      reauth_tried_ = true;  // once per worker: a failure here is a configuration problem
      try {
        if (const ReauthFactory& make = InstalledReauthFactory()) reauth_ = make(config_->auth);
      } catch (const std::exception& e) {
        log::Get().error("worker {}: cannot set up re-authentication: {}", getpid(), e.what());
      }
    }
    std::string before = job->reauth;
    ReauthStep step = RunReauth(job, raw, reauth_.get(), config_->auth, std::time(nullptr));
    if (job->reauth != before) {
      if (Status stored = queue_->SetVerdicts(job->id, *job); !stored.ok()) {
        log::Get().error("job={} cannot store re-authentication: {}", job->id,
                         stored.error().message);
      }
    }
    return step;
  }

  void Finish() {
    if (ready_ && module_ && module_->fini()) module_->fini()(state_);
  }

 private:
  // init() once per worker, the first time the handler is needed.
  bool Init() {
    if (init_tried_) return ready_;
    init_tried_ = true;
    if (!module_->table()->init) {
      ready_ = true;
      return true;
    }
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module_.get();
    ctx.in_init = true;
    const HandlerSettings& settings = config_->handler(instance_);
    int rc = module_->table()->init(&ctx, HostApi(), settings.config_json.c_str(), &state_);
    if (rc != THREADMILL_OK) {
      log::Get().error("handler={} init failed with status {} in worker {}{}", instance_, rc,
                       getpid(), ctx.last_error.empty() ? "" : ": " + ctx.last_error);
      return false;
    }
    ready_ = true;
    return true;
  }

  std::string instance_;
  std::shared_ptr<const ModuleFile> file_;
  std::shared_ptr<const RuntimeConfig> config_;
  std::function<void(int64_t)> busy_;
  std::unique_ptr<HostServices> services_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<LoadedModule> module_;
  std::string load_error_;
  bool init_tried_ = false;
  bool ready_ = false;
  void* state_ = nullptr;
  std::unique_ptr<JobReauthenticator> reauth_;  // made when a job first needs it
  bool reauth_tried_ = false;
};

int g_supervisor_fd = -1;  // this worker's socket; -1 outside a worker

// "outcome reason" as produced by Worker::RunJob/RunHeartbeat.
WorkerMessage ToResult(const std::string& text) {
  size_t space = text.find(' ');
  std::string outcome = text.substr(0, space);
  std::string reason = space == std::string::npos ? "" : text.substr(space + 1);
  Outcome o = outcome == "done"    ? Outcome::kDone
              : outcome == "park"  ? Outcome::kPark
              : outcome == "defer" ? Outcome::kDefer
                                   : Outcome::kRetry;
  return WorkerMessage::Result(o, reason);
}

}  // namespace

uint64_t PrivateDataBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmData:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 10) << 10;
  }
  return 0;
}

bool ReportReinjecting(bool started, uint32_t budget_seconds) {
  if (g_supervisor_fd < 0) return false;
  return SendMessage(g_supervisor_fd, started ? WorkerMessage::ReinjectStart(budget_seconds)
                                              : WorkerMessage::ReinjectEnd())
      .ok();
}

int RunWorker(int fd, const std::string& instance, std::shared_ptr<const ModuleFile> module,
              std::shared_ptr<const RuntimeConfig> config, const LoaderOptions& options) {
  uint64_t memory_limit = WorkerMemoryLimitBytes(config->worker_memory_mb);
  // The reply path tells the supervisor before it blocks on a reinjection (sendmail, the
  // outbound echo), so the job time-out never kills a worker in the middle of one.
  Worker worker(instance, std::move(module), std::move(config), [](int64_t seconds) {
    ReportReinjecting(true, static_cast<uint32_t>(std::clamp<int64_t>(seconds, 1, 86400)));
  });
  if (!worker.Open(options)) return 1;
  g_supervisor_fd = fd;
  int status = 0;
  for (;;) {
    auto received = ReceiveMessage(fd, /*dont_wait=*/false);
    if (!received.ok()) {
      if (received.error().code != ErrorCode::kNotFound) {
        log::Get().error("worker {}: {}", getpid(), received.error().message);
      }
      break;
    }
    if (!*received) continue;
    const WorkerMessage& request = **received;
    if (request.type == MessageType::kExit) break;
    WorkerMessage result;
    try {
      if (request.type == MessageType::kRunJob) {
        result = ToResult(worker.RunJob(request.name));
      } else if (request.type == MessageType::kRunHeartbeat) {
        result = ToResult(worker.RunHeartbeat(request.name));
      } else {
        result = WorkerMessage::Result(Outcome::kRetry, "bad-request");
      }
    } catch (const std::bad_alloc&) {
      result = WorkerMessage::Result(Outcome::kRetry, "worker out of memory (worker_memory_mb)");
      status = kWorkerExitMemory;
    } catch (const std::exception& e) {
      result = WorkerMessage::Result(Outcome::kRetry, std::string("internal: ") + e.what());
    }
    if (status == 0 && memory_limit > 0 && PrivateDataBytes() > memory_limit / 4 * 3) {
      log::Get().warn(
          "worker {}: {} MB of private data, over 3/4 of worker_memory_mb = {}: "
          "recycling",
          getpid(), PrivateDataBytes() >> 20, memory_limit >> 20);
      status = kWorkerExitMemory;
    }
    // Said before the result, so the supervisor never hands a task to a worker on its way
    // out (that task would fail without ever running and spend one of its attempts).
    if (status != 0 && !SendMessage(fd, WorkerMessage::Retiring()).ok()) break;
    if (!SendMessage(fd, result).ok()) break;
    if (status != 0) break;
  }
  g_supervisor_fd = -1;
  if (status == 0) worker.Finish();  // a worker short of memory skips fini()
  return status;
}

}  // namespace threadmill::runtime
