#include "filter/decision_metrics.h"

namespace threadmill::filter {

void CountDecision(metrics::Registry& registry, const Decision& d) {
  const char* direction = store::ToString(d.direction);
  registry
      .GetCounter("threadmill_messages_total", "Messages decided, by direction and decision",
                  {{"direction", direction}, {"decision", d.decision}})
      .Add();
  if (d.direction == store::Direction::kInbound && d.decision != "error") {
    registry
        .GetCounter("threadmill_matches_total", "Inbound messages by thread match method",
                    {{"method", thread::ToString(d.resolution.method)}})
        .Add();
  }
  for (const auto& [method, result] : d.auth_log) {
    if (method != "dmarc" && method != "spf" && method != "dkim") continue;
    registry
        .GetCounter("threadmill_auth_results_total", "Authentication verdicts by method",
                    {{"method", method}, {"result", result}})
        .Add();
    if (result == "temperror") {
      registry
          .GetCounter("threadmill_dns_temperrors_total",
                      "Verdicts that were temperror (DNS time-out or server failure)",
                      {{"method", method}})
          .Add();
    }
  }
  if (d.decision == "error") {
    registry
        .GetCounter("threadmill_errors_total", "Messages that met an internal or store error",
                    {{"reason", d.reason}})
        .Add();
  }
}

}  // namespace threadmill::filter
