#include "runtime/runtime_metrics.h"

#include <set>

#include "store/counters.h"

namespace threadmill::runtime {

std::string RenderRuntimeMetrics(const std::shared_ptr<store::Environment>& env,
                                 const JobQueue& jobs) {
  std::string out =
      "# HELP threadmill_jobs Handler jobs in the spool by state\n"
      "# TYPE threadmill_jobs gauge\n";
  for (auto state : {JobState::kQueued, JobState::kRunning, JobState::kParked, JobState::kDone}) {
    auto counted = jobs.Count(state);  // through the spool index: no job is read
    out += std::string("threadmill_jobs{state=\"") + ToString(state) + "\"} " +
           std::to_string(counted.ok() ? *counted : 0) + "\n";
  }
  if (jobs.shared()) {  // [store] backend = "postgresql" (job_queue.h SHARED QUEUE)
    auto depth = jobs.LocalFallbackDepth();
    out +=
        "# HELP threadmill_jobs_fallback Routed jobs spooled locally while the database was "
        "unreachable, waiting to be pushed to it\n"
        "# TYPE threadmill_jobs_fallback gauge\n"
        "threadmill_jobs_fallback " +
        std::to_string(depth.ok() ? *depth : 0) + "\n";
  }
  auto counters = store::Counters(env).All();
  if (!counters.ok()) return out;
  std::set<std::string> families;
  for (const auto& [series, value] : *counters) {
    std::string family = series.substr(0, series.find('{'));
    if (families.insert(family).second) {
      out += "# HELP " + family + " Counted by the handler runtime (durable across restarts)\n";
      out += "# TYPE " + family + " counter\n";
    }
    out += series + " " + std::to_string(value) + "\n";
  }
  return out;
}

}  // namespace threadmill::runtime
