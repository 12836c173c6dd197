#include "runtime/config_snapshot.h"

namespace threadmill::runtime {

ConfigSnapshot MakeConfigSnapshot(std::shared_ptr<const config::Config> config) {
  ConfigSnapshot snapshot;
  snapshot.runtime = std::make_shared<const RuntimeConfig>(ParseRuntimeConfig(*config));
  snapshot.config = std::move(config);
  return snapshot;
}

ConfigSnapshot LoadConfigSnapshot(const std::string& path) {
  return MakeConfigSnapshot(config::Load(path));
}

}  // namespace threadmill::runtime
