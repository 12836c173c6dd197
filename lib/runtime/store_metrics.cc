// store_metrics.cc - see store_metrics.h.
#include "runtime/store_metrics.h"

#include <cstdio>

namespace threadmill::runtime {
namespace {

void Family(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Sample(std::string* out, const std::string& name, const std::string& labels,
            const std::string& value) {
  *out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + value + "\n";
}

std::string Seconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", seconds);
  return buf;
}

}  // namespace

std::string RenderStoreBackendMetrics(const store::BackendStats& s) {
  std::string out;
  Family(&out, "threadmill_store_backend_up", "gauge",
         "1 when the last call of this process to the shared store succeeded");
  Sample(&out, "threadmill_store_backend_up", "backend=\"" + s.backend + "\"", s.up ? "1" : "0");
  Family(&out, "threadmill_store_calls_total", "counter",
         "Calls of this process to the shared store, by operation");
  for (const auto& [op, o] : s.ops) {
    Sample(&out, "threadmill_store_calls_total", "op=\"" + op + "\"", std::to_string(o.calls));
  }
  Family(&out, "threadmill_store_errors_total", "counter",
         "Calls to the shared store that failed, by operation");
  for (const auto& [op, o] : s.ops) {
    Sample(&out, "threadmill_store_errors_total", "op=\"" + op + "\"", std::to_string(o.errors));
  }
  Family(&out, "threadmill_store_call_seconds", "summary",
         "Time spent in calls to the shared store (round trips included), by operation");
  for (const auto& [op, o] : s.ops) {
    Sample(&out, "threadmill_store_call_seconds_sum", "op=\"" + op + "\"", Seconds(o.seconds));
    Sample(&out, "threadmill_store_call_seconds_count", "op=\"" + op + "\"",
           std::to_string(o.calls));
  }
  Family(&out, "threadmill_store_connections", "gauge",
         "Database connections of this process's pool");
  Sample(&out, "threadmill_store_connections", "state=\"idle\"",
         std::to_string(s.idle_connections));
  Sample(&out, "threadmill_store_connections", "state=\"busy\"",
         std::to_string(s.busy_connections));
  Family(&out, "threadmill_store_connects_total", "counter", "Database connections opened");
  Sample(&out, "threadmill_store_connects_total", "", std::to_string(s.connects));
  Family(&out, "threadmill_store_connect_failures_total", "counter",
         "Database connects that failed or timed out ([store] connect_timeout_ms)");
  Sample(&out, "threadmill_store_connect_failures_total", "", std::to_string(s.connect_failures));
  Family(&out, "threadmill_store_timeouts_total", "counter",
         "Connections abandoned after a statement got no answer ([store] statement_timeout_ms)");
  Sample(&out, "threadmill_store_timeouts_total", "", std::to_string(s.timeouts));
  return out;
}

std::string RenderStoreBackendMetrics(const store::Environment& env) {
  store::SharedBackends shared = env.shared_backends();
  if (!shared.stats) return "";
  return RenderStoreBackendMetrics(shared.stats());
}

}  // namespace threadmill::runtime
