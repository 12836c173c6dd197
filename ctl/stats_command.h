// stats_command.h - threadmillctl stats: what the store holds and what the daemon counted.
#pragma once

#include "config/config.h"

namespace threadmill::ctl {

// Store figures (admin/store_stats.h: entries per database or table, jobs by state, counters;
// with a shared store the totals of every host and the local fallback spool) and, when
// [metrics] listen is set and the daemon answers, its threadmill_* counters.
int RunStatsCommand(const config::Config& config, bool json);

}  // namespace threadmill::ctl
