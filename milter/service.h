// service.h - the daemon's long-lived state: the store and the current Processor.
//
// DESCRIPTION
//   The store (LMDB environment) is opened once at start-up; the Processor is rebuilt from a
//   fresh configuration snapshot on reload and swapped atomically, so connections in flight
//   finish with the snapshot they started with and new messages use the new one.
//   Settings that cannot change without a restart are named on reload, one warning line
//   listing the changed keys (RestartOnlyChanges). The store is opened with
//   runtime::StoreOptions, like every other process of threadmill.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "config/config.h"
#include "filter/handoff.h"
#include "filter/processor.h"
#include "metrics/http_listener.h"
#include "metrics/registry.h"
#include "runtime/config_snapshot.h"
#include "runtime/job_queue.h"
#include "store/environment.h"
#include "store/thread_store.h"

namespace threadmill::milter {

// The changed settings of `fresh` that only a restart applies, comma-separated ("" if none):
// [milter] socket/user/group/socket_group/pid_file, [store] path/map_size_mb/max_map_size_mb/
// sync, [metrics] listen.
std::string RestartOnlyChanges(const config::Config& running, const config::Config& fresh);

class Service {
 public:
  // Opens the store. Throws std::runtime_error with a clear message on failure.
  Service(std::string config_path, runtime::ConfigSnapshot snapshot);

  std::shared_ptr<const filter::Processor> processor() const { return processor_.load(); }
  std::shared_ptr<const config::Config> config() const { return processor()->config_ptr(); }
  const std::shared_ptr<store::Environment>& environment() const { return env_; }
  const std::shared_ptr<store::ThreadStore>& store() const { return store_; }

  // Re-reads the configuration file; on error keeps the current one. Never throws.
  void Reload() noexcept;

  const std::shared_ptr<metrics::Registry>& metrics() const { return metrics_; }
  const std::shared_ptr<runtime::JobQueue>& jobs() const { return jobs_; }
  // Starts the /metrics listener when [metrics] listen is set. Throws on bind failure.
  void StartMetricsListener();
  // The Prometheus text served at /metrics: process counters plus store figures.
  std::string RenderMetrics() const;

 private:
  std::string config_path_;
  std::shared_ptr<store::Environment> env_;
  std::shared_ptr<store::ThreadStore> store_;
  std::shared_ptr<auth::Authenticator> authenticator_;
  std::shared_ptr<const filter::Processor> MakeProcessor(
      const runtime::ConfigSnapshot& snapshot,
      std::shared_ptr<auth::Authenticator> authenticator) const;
  std::shared_ptr<metrics::Registry> metrics_ = std::make_shared<metrics::Registry>();
  std::shared_ptr<runtime::JobQueue> jobs_;
  std::unique_ptr<metrics::HttpListener> metrics_listener_;
  std::atomic<std::shared_ptr<const filter::Processor>> processor_;
};

}  // namespace threadmill::milter
