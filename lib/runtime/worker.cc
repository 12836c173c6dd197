#include "runtime/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <string>

#include "log/logger.h"
#include "runtime/host.h"
#include "runtime/job_queue.h"
#include "runtime/worker_pool.h"
#include "runtime/worker_protocol.h"

namespace threadmill::runtime {
namespace {

struct HandlerState {
  bool ready = false;
  void* state = nullptr;
};

class Worker {
 public:
  Worker(const ModuleSet& modules, std::shared_ptr<const RuntimeConfig> config,
         std::function<void(int64_t)> busy)
      : modules_(modules), config_(std::move(config)), busy_(std::move(busy)) {}

  bool Open() {
    store::EnvOptions options = config_->store;
    options.sync_each_commit = true;  // a worker's records (ledger, kv) are durable at once
    auto env = store::Environment::Open(options);
    if (!env.ok()) {
      log::Get().error("worker {}: cannot open the store: {}", getpid(), env.error().message);
      return false;
    }
    services_ = HostServices::Create(*env, config_, busy_);
    queue_ = std::make_unique<JobQueue>(*env, config_->spool_dir());
    return true;
  }

  // Returns "outcome reason".
  std::string RunJob(const std::string& id) {
    auto job = queue_->Get(id);
    if (!job.ok()) return "retry store: " + job.error().message;
    if (!job->has_value()) return "park job-missing";
    const Job& j = **job;
    const LoadedModule* module = modules_.Find(j.handler);
    if (!module) return "retry handler-not-loaded";
    if (j.kind == kDraftDecisionJob) return RunDraftDecision(module, j);
    auto raw = queue_->ReadMessage(j);
    if (!raw.ok()) return "park spool-file: " + raw.error().message;
    HandlerState* hs = Init(module);
    if (!hs) return "retry init-failed";
    InboundMessage message(j, std::move(*raw), &config_->reply);
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module;
    ctx.state = hs->state;
    ctx.job = &j;
    ctx.message = &message;
    int rc = module->table()->on_inbound(&ctx, message.envelope());
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

  std::string RunHeartbeat(const std::string& name) {
    const LoadedModule* module = modules_.Find(name);
    if (!module || !module->on_heartbeat()) return "park no-heartbeat";
    HandlerState* hs = Init(module);
    if (!hs) return "retry init-failed";
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module;
    ctx.state = hs->state;
    int rc = module->on_heartbeat()(&ctx);
    return rc == THREADMILL_OK ? "done " : "retry heartbeat-status-" + std::to_string(rc);
  }

  // A draft-decision job (runtime/drafts.h): on_draft_decision when the module has it.
  std::string RunDraftDecision(const LoadedModule* module, const Job& j) {
    if (!module->on_draft_decision()) return "done ";
    auto draft = services_->drafts->Get(j.draft_id);
    if (!draft.ok()) return "retry store: " + draft.error().message;
    if (!draft->has_value()) return "park draft-missing";
    HandlerState* hs = Init(module);
    if (!hs) return "retry init-failed";
    auto call = MakeDecision(std::move(**draft));
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module;
    ctx.state = hs->state;
    ctx.job = &j;
    int rc = module->on_draft_decision()(&ctx, &call->decision);
    return rc == THREADMILL_RETRY ? "retry handler-retry" : "done ";
  }

  void Finish() {
    for (auto& [name, hs] : states_) {
      const LoadedModule* module = modules_.Find(name);
      if (hs.ready && module && module->fini()) module->fini()(hs.state);
    }
  }

 private:
  HandlerState* Init(const LoadedModule* module) {
    auto it = states_.find(module->name());
    if (it != states_.end()) return it->second.ready ? &it->second : nullptr;
    HandlerState& hs = states_[module->name()];
    if (!module->table()->init) {
      hs.ready = true;
      return &hs;
    }
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = module;
    const HandlerSettings& settings = config_->handler(module->name());
    int rc = module->table()->init(&ctx, HostApi(), settings.config_json.c_str(), &hs.state);
    if (rc != THREADMILL_OK) {
      log::Get().error("handler={} init failed with status {} in worker {}{}", module->name(), rc,
                       getpid(), ctx.last_error.empty() ? "" : ": " + ctx.last_error);
      return nullptr;
    }
    hs.ready = true;
    return &hs;
  }

  const ModuleSet& modules_;
  std::shared_ptr<const RuntimeConfig> config_;
  std::function<void(int64_t)> busy_;
  std::unique_ptr<HostServices> services_;
  std::unique_ptr<JobQueue> queue_;
  std::map<std::string, HandlerState> states_;
};

int g_supervisor_fd = -1;  // this worker's socket; -1 outside a worker

// "outcome reason" as produced by Worker::RunJob/RunHeartbeat.
WorkerMessage ToResult(const std::string& text) {
  size_t space = text.find(' ');
  std::string outcome = text.substr(0, space);
  std::string reason = space == std::string::npos ? "" : text.substr(space + 1);
  Outcome o = outcome == "done"   ? Outcome::kDone
              : outcome == "park" ? Outcome::kPark
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

int RunWorker(int fd, const ModuleSet& modules, std::shared_ptr<const RuntimeConfig> config) {
  uint64_t memory_limit = WorkerMemoryLimitBytes(config->worker_memory_mb);
  // The reply path tells the supervisor before it blocks on a reinjection (sendmail, the
  // outbound echo), so the job time-out never kills a worker in the middle of one.
  Worker worker(modules, std::move(config), [](int64_t seconds) {
    ReportReinjecting(true, static_cast<uint32_t>(std::clamp<int64_t>(seconds, 1, 86400)));
  });
  if (!worker.Open()) return 1;
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
