#include "filter/decision_metrics.h"

namespace threadmill::filter {
namespace {

void CountAuthResult(metrics::Registry& registry, const char* method, const char* result,
                     bool temperror) {
  registry
      .GetCounter("threadmill_auth_results_total", "Authentication verdicts by method",
                  {{"method", method}, {"result", result}})
      .Add();
  if (temperror) {
    registry
        .GetCounter("threadmill_dns_temperrors_total",
                    "Verdicts that were temperror (DNS time-out or server failure)",
                    {{"method", method}})
        .Add();
  }
}

}  // namespace

void CountDecision(metrics::Registry& registry, const Decision& d) {
  const char* direction = store::ToString(d.direction);
  registry
      .GetCounter("threadmill_messages_total", "Messages decided, by direction and decision",
                  {{"direction", direction}, {"decision", ToString(d.outcome)}})
      .Add();
  if (d.direction == store::Direction::kInbound && d.outcome != Outcome::kError &&
      !d.store_failed) {
    registry
        .GetCounter("threadmill_matches_total", "Inbound messages by thread match method",
                    {{"method", thread::ToString(d.resolution.method)}})
        .Add();
  }
  if (d.verdicts) {
    const auth::Verdicts& v = *d.verdicts;
    CountAuthResult(registry, "dmarc", d.dmarc_result(),
                    v.dmarc_checked && v.dmarc.result == auth::DmarcResult::kTempError);
    CountAuthResult(registry, "spf", d.spf_result(),
                    v.spf_checked && v.spf.result == auth::SpfResult::kTempError);
    CountAuthResult(registry, "dkim", d.dkim_result(),
                    v.DkimSummary() == auth::DkimResult::kTempError);
  }
  if (d.outcome == Outcome::kError || d.store_failed) {
    registry
        .GetCounter("threadmill_errors_total", "Messages that met an internal or store error",
                    {{"reason", d.reason}})
        .Add();
  }
}

}  // namespace threadmill::filter
