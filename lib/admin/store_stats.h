// store_stats.h - the store figures of `threadmillctl stats` and the console's stats page.
//
// DESCRIPTION
//   Map size, entries per database (store/schema.h), jobs per state and the counters the
//   workers keep (store/counters.h: replies and job outcomes). Read-only.
//
// LIMITS
//   Jobs are counted by listing each state (at most a million per state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::admin {

struct StoreStats {
  uint64_t map_bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> entries;   // database -> entries
  std::vector<std::pair<std::string, uint64_t>> jobs;      // state -> jobs
  std::vector<std::pair<std::string, uint64_t>> counters;  // series -> value
};

Result<StoreStats> ReadStoreStats(const std::shared_ptr<store::Environment>& env,
                                  const std::string& spool_dir);

}  // namespace threadmill::admin
