// store_access.h - how threadmillctl and threadmill-web open the daemon's store.
#pragma once

#include <memory>

#include "config/config.h"
#include "store/environment.h"

namespace threadmill::admin {

// Opens [store] path, read-only unless `write` (drafts approve, queue retry/park). Safe while
// the daemon runs (LMDB: many processes). Run as root, drops to [milter] user first (for the
// rest of the process: replies of approved drafts are reinjected as that user, as the
// workers do). Throws std::runtime_error naming the path, or the user that does not exist.
std::shared_ptr<store::Environment> OpenEnvironment(const config::Config& config, bool write);

}  // namespace threadmill::admin
