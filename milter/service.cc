#include "milter/service.h"

#include <stdexcept>

#include "filter/authentication.h"
#include "log/logger.h"
#include "runtime/runtime_metrics.h"

namespace threadmill::milter {

Service::Service(std::string config_path, std::shared_ptr<const config::Config> config)
    : config_path_(std::move(config_path)) {
  store::EnvOptions options;
  options.path = config->store.path;
  options.map_size_bytes = config->store.map_size_mb << 20;
  options.max_map_size_bytes = config->store.max_map_size_mb << 20;
  options.sync_each_commit = config->store.sync_each_commit;
  auto env = store::Environment::Open(options);
  if (!env.ok()) {
    throw std::runtime_error("cannot open the store at " + options.path + ": " +
                             env.error().message +
                             " (check [store] path exists and is writable by the daemon)");
  }
  env_ = *env;
  store_ = std::make_shared<store::ThreadStore>(env_);
  jobs_ = std::make_shared<runtime::JobQueue>(env_, config->store.path + "/spool");
  if (size_t stale = jobs_->RemoveStaleIncoming()) {
    log::Get().info("removed {} partial incoming message(s) left in the spool", stale);
  }
  authenticator_ = filter::MakeAuthenticator(*config);
  processor_.store(MakeProcessor(std::move(config), authenticator_));
}

void Service::Reload() noexcept {
  try {
    auto fresh = config::Load(config_path_);
    auto current = config();
    if (fresh->milter.socket.text != current->milter.socket.text ||
        fresh->milter.user != current->milter.user || fresh->store.path != current->store.path) {
      log::Get().warn(
          "reload: changes to [milter] socket/user or [store] path need a restart; "
          "they are ignored until then");
    }
    auto authenticator = filter::MakeAuthenticator(*fresh);  // fresh resolver settings
    log::Configure(fresh->log);
    authenticator_ = authenticator;
    processor_.store(MakeProcessor(fresh, authenticator));
    log::Get().info("reload: configuration re-read from {}", config_path_);
  } catch (const std::exception& e) {
    log::Get().error("reload failed, keeping the running configuration: {}", e.what());
  }
}

std::shared_ptr<const filter::Processor> Service::MakeProcessor(
    std::shared_ptr<const config::Config> config,
    std::shared_ptr<auth::Authenticator> authenticator) const {
  auto handoff = std::make_shared<const filter::Handoff>(*config, jobs_, env_);
  return std::make_shared<const filter::Processor>(
      std::move(config), store_, std::move(authenticator), metrics_, std::move(handoff));
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
  return text;
}

}  // namespace threadmill::milter
