#include "runtime/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>

#include "log/logger.h"
#include "runtime/host.h"
#include "runtime/job_queue.h"

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
    store::EnvOptions options;
    options.path = config_->store_path;
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

}  // namespace

int RunWorker(int fd, const ModuleSet& modules, std::shared_ptr<const RuntimeConfig> config) {
  // "K <seconds>": the reply path is about to block (sendmail, waiting for the outbound
  // echo); the supervisor extends the job's deadline so it never kills a reinjection.
  auto busy = [fd](int64_t seconds) {
    std::string msg = "K " + std::to_string(seconds);
    (void)send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  };
  Worker worker(modules, std::move(config), busy);
  if (!worker.Open()) return 1;
  char buf[512];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string msg(buf, static_cast<size_t>(n));
    if (msg == "X") break;
    std::string result;
    try {
      if (msg.rfind("J ", 0) == 0) {
        result = worker.RunJob(msg.substr(2));
      } else if (msg.rfind("H ", 0) == 0) {
        result = worker.RunHeartbeat(msg.substr(2));
      } else {
        result = "retry bad-request";
      }
    } catch (const std::exception& e) {
      result = std::string("retry internal: ") + e.what();
    }
    std::string reply = "R " + result;
    if (reply.size() > 480) reply.resize(480);
    if (send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) break;
  }
  worker.Finish();
  return 0;
}

}  // namespace threadmill::runtime
