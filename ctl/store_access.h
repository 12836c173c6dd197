// store_access.h - how threadmillctl opens the daemon's store.
#pragma once

#include <memory>

#include "config/config.h"
#include "store/environment.h"

namespace threadmill::ctl {

// Opens [store] path, read-only unless `write` (drafts approve, queue retry/park). Safe while
// the daemon runs (LMDB: many processes). Throws std::runtime_error naming the path.
std::shared_ptr<store::Environment> OpenEnvironment(const config::Config& config, bool write);

}  // namespace threadmill::ctl
