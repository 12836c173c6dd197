// store_stats.h - the store figures of `threadmillctl stats` and the console's stats page.
//
// DESCRIPTION
//   Records per table or database (store/store_census.h), jobs per state (runtime/job_queue.h)
//   and the counters the workers keep (store/counters.h: replies and job outcomes), read from
//   the backend the configuration names, through the store's interfaces:
//     - LMDB: entries per named database of the local environment and its map size;
//     - shared (PostgreSQL): rows per shared table, the shared queue's jobs and the counters,
//       all totals of every host sharing the database; plus this host's local fallback
//       spool (jobs spooled while the database was away, waiting to be pushed to it).
//   With a shared store that does not answer, the local figures are still read and `error`
//   says why the shared ones are missing.
//
// LIMITS
//   Read-only. Counting is exact (see store/postgresql/pg_census_backend.h for big tables).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::admin {

using Figures = std::vector<std::pair<std::string, uint64_t>>;

struct StoreStats {
  std::string backend;     // "lmdb" or "postgresql"
  bool shared = false;     // entries, jobs and counters are the totals of every host
  uint64_t map_bytes = 0;  // the local LMDB environment's map
  Figures entries;         // table or database -> records
  Figures jobs;            // state -> jobs (shared: the shared queue)
  Figures counters;        // series -> value
  // Shared only: this host's local spool (runtime/job_queue.h FALLBACK).
  Figures local_jobs;            // state -> jobs in the local spool
  uint64_t waiting_to_push = 0;  // fallback jobs waiting for the database
  std::string error;             // shared only: why shared figures are missing ("" = none)
};

Result<StoreStats> ReadStoreStats(const std::shared_ptr<store::Environment>& env,
                                  const std::string& spool_dir);

}  // namespace threadmill::admin
