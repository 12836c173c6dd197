// migrate_store_command.h - threadmillctl migrate-store --from lmdb [--path DIR] [--dry-run]:
// copies an LMDB store's shared data (thread mappings, thread records, Thread-Index roots,
// the replied-once / rate ledger) into the PostgreSQL database of [store] dsn.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace threadmill::ctl {

// words: "migrate-store" and its arguments. Refuses (status 1) unless [store] backend is
// "postgresql". The LMDB store is [store] path unless --path is given; it is opened read-only.
// Prints per data kind what the LMDB store holds and what was (with --dry-run: would be)
// copied; existing PostgreSQL rows are kept, so a second run copies nothing
// (store/postgresql/pg_migrate_lmdb.h). Status 0 on success, 1 on error, 2 usage.
int RunMigrateStoreCommand(const config::Config& config, const std::vector<std::string>& words,
                           bool json);

}  // namespace threadmill::ctl
