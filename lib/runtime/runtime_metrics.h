// runtime_metrics.h - the handler runtime's figures in the Prometheus text format.
//
// DESCRIPTION
//   What the workers and the supervisor did is in the store, so the daemon's /metrics (and
//   threadmillctl stats) can show it whichever process counted: jobs by state (gauges, from
//   the spool), job attempt outcomes and replies sent/refused/failed by reason (durable
//   counters, store/counters.h).
#pragma once

#include <string>

#include "runtime/job_queue.h"
#include "store/environment.h"

namespace threadmill::runtime {

std::string RenderRuntimeMetrics(const std::shared_ptr<store::Environment>& env,
                                 const JobQueue& jobs);

}  // namespace threadmill::runtime
