// db_command.h - threadmillctl db status | db migrate: the shared database's schema.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace threadmill::ctl {

// status: backend, database (DSN without password), reachable, schema applied/expected,
// pending migrations; exit 0 when reachable and up to date, 1 otherwise (or with lmdb: 0,
// nothing to migrate). migrate: applies the pending migrations (lmdb: explains there is
// nothing to do); exit 0 on success.
int RunDbCommand(const config::Config& config, const std::vector<std::string>& words, bool json);

}  // namespace threadmill::ctl
