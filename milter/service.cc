#include "milter/service.h"

#include <stdexcept>

#include "filter/authentication.h"
#include "log/logger.h"
#include "milter/handler_check.h"
#include "runtime/runtime_config.h"
#include "runtime/runtime_metrics.h"
#include "runtime/store_metrics.h"
#include "store/open_store.h"

namespace threadmill::milter {

Service::Service(std::string config_path, runtime::ConfigSnapshot snapshot)
    : config_path_(std::move(config_path)) {
  const config::Config& config = *snapshot.config;
  store::EnvOptions options = snapshot.runtime->store;
  auto env = store::OpenStore(options);
  if (!env.ok()) {
    throw std::runtime_error("cannot open the store at " + options.path + ": " +
                             env.error().message +
                             " (check [store] path exists and is writable by the daemon)");
  }
  env_ = *env;
  store_ = std::make_shared<store::ThreadStore>(env_);
  jobs_ = std::make_shared<runtime::JobQueue>(env_, snapshot.runtime->spool_dir());
  if (size_t stale = jobs_->RemoveStaleIncoming()) {
    log::Get().info("removed {} partial incoming message(s) left in the spool", stale);
  }
  authenticator_ = filter::MakeAuthenticator(config);
  processor_.store(MakeProcessor(snapshot, authenticator_));
}

std::string RestartOnlyChanges(const config::Config& running, const config::Config& fresh) {
  std::string out;
  auto check = [&](bool changed, const char* key) {
    if (!changed) return;
    if (!out.empty()) out += ", ";
    out += key;
  };
  check(fresh.milter.socket.text != running.milter.socket.text, "milter.socket");
  check(fresh.milter.user != running.milter.user, "milter.user");
  check(fresh.milter.group != running.milter.group, "milter.group");
  check(fresh.milter.socket_group != running.milter.socket_group, "milter.socket_group");
  check(fresh.milter.pid_file != running.milter.pid_file, "milter.pid_file");
  check(fresh.store.path != running.store.path, "store.path");
  check(fresh.store.backend != running.store.backend, "store.backend");
  check(fresh.store.dsn != running.store.dsn, "store.dsn");
  check(fresh.store.map_size_mb != running.store.map_size_mb, "store.map_size_mb");
  check(fresh.store.max_map_size_mb != running.store.max_map_size_mb, "store.max_map_size_mb");
  check(fresh.store.sync_each_commit != running.store.sync_each_commit, "store.sync");
  check(fresh.metrics.listen != running.metrics.listen, "metrics.listen");
  return out;
}

void Service::Reload() noexcept {
  try {
    runtime::ConfigSnapshot snapshot = runtime::LoadConfigSnapshot(config_path_);
    const auto& fresh = snapshot.config;
    auto current = config();
    std::string needs_restart = RestartOnlyChanges(*current, *fresh);
    if (!needs_restart.empty()) {
      log::Get().warn(
          "reload: changed settings that need a restart (kept as they were until "
          "then): {}",
          needs_restart);
    }
    // Routes to handlers that do not load are refused here as by the supervisor, which keeps
    // its handlers: the two never disagree on where jobs go.
    if (HandlersConfigured(*snapshot.runtime)) {
      auto problems = CheckHandlersInHelper(config_path_);
      if (!problems.ok()) {
        log::Get().error("reload refused, keeping the running configuration: {}",
                         problems.error().message);
        return;
      }
      for (const std::string& problem : *problems) {
        log::Get().error("reload refused, keeping the running configuration: {}", problem);
      }
      if (!problems->empty()) return;
    }
    auto authenticator = filter::MakeAuthenticator(*fresh);  // fresh resolver settings
    log::Configure(fresh->log);
    authenticator_ = authenticator;
    processor_.store(MakeProcessor(snapshot, authenticator));
    log::Get().info("reload: configuration re-read from {}", config_path_);
  } catch (const std::exception& e) {
    log::Get().error("reload failed, keeping the running configuration: {}", e.what());
  }
}

std::shared_ptr<const filter::Processor> Service::MakeProcessor(
    const runtime::ConfigSnapshot& snapshot,
    std::shared_ptr<auth::Authenticator> authenticator) const {
  auto handoff = std::make_shared<const filter::Handoff>(
      *snapshot.runtime, snapshot.config->milter.on_store_error, jobs_, env_);
  return std::make_shared<const filter::Processor>(snapshot.config, store_,
                                                   std::move(authenticator), metrics_,
                                                   std::move(handoff));
}

void Service::StartMetricsListener() {
  const std::string& listen = config()->metrics.listen;
  if (listen.empty()) return;
  auto listener = metrics::HttpListener::Start(listen, [this] { return RenderMetrics(); });
  if (!listener.ok()) throw std::runtime_error(listener.error().message);
  metrics_listener_ = std::move(*listener);
}

std::string Service::RenderMetrics() const {
  std::string text = metrics_->Render();
  text += "# HELP threadmill_store_map_bytes Current LMDB map size\n";
  text += "# TYPE threadmill_store_map_bytes gauge\n";
  text += metrics::FormatSample("threadmill_store_map_bytes", {}, std::to_string(env_->map_size()));
  text += runtime::RenderRuntimeMetrics(env_, *jobs_);
  text += runtime::RenderStoreBackendMetrics(*env_);  // this process's database calls
  return text;
}

}  // namespace threadmill::milter
