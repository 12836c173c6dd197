// stats_command.h - threadmillctl stats: what the store holds and what the daemon counted.
#pragma once

#include "config/config.h"

namespace threadmill::ctl {

// Store figures (entries per database, jobs by state, map size) and, when [metrics] listen
// is set and the daemon answers, its threadmill_* counters.
int RunStatsCommand(const config::Config& config, bool json);

}  // namespace threadmill::ctl
