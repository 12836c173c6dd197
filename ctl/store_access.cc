#include "ctl/store_access.h"

#include <stdexcept>

#include "runtime/runtime_config.h"

namespace threadmill::ctl {

std::shared_ptr<store::Environment> OpenEnvironment(const config::Config& config, bool write) {
  store::EnvOptions options = runtime::StoreOptions(config);  // [store] map sizes included
  options.read_only = !write;
  options.sync_each_commit = true;  // the CLI's few writes are flushed at once
  auto env = store::Environment::Open(options);
  if (!env.ok()) {
    throw std::runtime_error("cannot open the store at " + options.path + ": " +
                             env.error().message);
  }
  return *env;
}

}  // namespace threadmill::ctl
