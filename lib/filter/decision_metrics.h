// decision_metrics.h - the counters every decision feeds (threadmill_* Prometheus series).
#pragma once

#include "filter/decision.h"
#include "metrics/registry.h"

namespace threadmill::filter {

// messages by direction and decision, matches by method, auth verdicts, store errors.
void CountDecision(metrics::Registry& registry, const Decision& decision);

}  // namespace threadmill::filter
