#include "admin/store_access.h"

#include <unistd.h>

#include <stdexcept>

#include "common/privileges.h"
#include "runtime/runtime_config.h"
#include "store/open_store.h"

namespace threadmill::admin {

std::shared_ptr<store::Environment> OpenEnvironment(const config::Config& config, bool write) {
  // Run as root, first become the service user, like the daemon (common/privileges.h): the
  // store is that user's, and root must not open files it could have replaced by links
  // (LMDB creates and resizes lock.mdb by path). A missing user refuses, as in the daemon.
  auto plan = PlanPrivilegeDrop({config.milter.user, config.milter.group}, geteuid());
  if (!plan.ok()) throw std::runtime_error(plan.error().message);
  if (Status dropped = DropPrivileges(*plan); !dropped.ok()) {
    throw std::runtime_error(dropped.error().message);
  }
  store::EnvOptions options = runtime::StoreOptions(config);  // [store] map sizes included
  options.read_only = !write;
  options.sync_each_commit = true;  // the CLI's few writes are flushed at once
  auto env = store::OpenStore(options);
  if (!env.ok()) {
    throw std::runtime_error("cannot open the store at " + options.path + ": " +
                             env.error().message);
  }
  return *env;
}

}  // namespace threadmill::admin
