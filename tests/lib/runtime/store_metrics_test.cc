// The shared store's figures in /metrics (runtime/store_metrics.h): every family, one series
// per operation, the summary's _sum and _count.
#include "runtime/store_metrics.h"

#include <gtest/gtest.h>

namespace threadmill::runtime {
namespace {

TEST(StoreMetrics, RendersEveryFamily) {
  store::BackendStats s;
  s.backend = "postgresql";
  s.up = true;
  s.ops["find_message"] = {4, 1, 0.25};
  s.ops["ledger_write"] = {2, 0, 0.5};
  s.connects = 3;
  s.connect_failures = 1;
  s.timeouts = 1;
  s.idle_connections = 2;
  s.busy_connections = 1;
  const std::string text = RenderStoreBackendMetrics(s);
  for (const char* want : {
           "# TYPE threadmill_store_backend_up gauge\n",
           "threadmill_store_backend_up{backend=\"postgresql\"} 1\n",
           "threadmill_store_calls_total{op=\"find_message\"} 4\n",
           "threadmill_store_errors_total{op=\"find_message\"} 1\n",
           "threadmill_store_errors_total{op=\"ledger_write\"} 0\n",
           "# TYPE threadmill_store_call_seconds summary\n",
           "threadmill_store_call_seconds_sum{op=\"ledger_write\"} 0.500000\n",
           "threadmill_store_call_seconds_count{op=\"find_message\"} 4\n",
           "threadmill_store_connections{state=\"idle\"} 2\n",
           "threadmill_store_connections{state=\"busy\"} 1\n",
           "threadmill_store_connects_total 3\n",
           "threadmill_store_connect_failures_total 1\n",
           "threadmill_store_timeouts_total 1\n",
       }) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " in\n" << text;
  }
  s.up = false;
  EXPECT_NE(
      RenderStoreBackendMetrics(s).find("threadmill_store_backend_up{backend=\"postgresql\"} 0"),
      std::string::npos);
}

}  // namespace
}  // namespace threadmill::runtime
