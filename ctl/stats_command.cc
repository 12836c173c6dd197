#include "ctl/stats_command.h"

#include <cstdio>
#include <sstream>

#include <httplib.h>

#include "admin/store_access.h"
#include "admin/store_stats.h"
#include "ctl/output.h"
#include "metrics/http_listener.h"
#include "runtime/job_queue.h"
#include "store/counters.h"
#include "store/schema.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;
namespace {

nlohmann::ordered_json StoreFigures(const config::Config& config) {
  auto env = OpenEnvironment(config, /*write=*/false);
  auto stats = admin::ReadStoreStats(env, config.store.path + "/spool");
  if (!stats.ok()) throw std::runtime_error(stats.error().message);
  nlohmann::ordered_json out;
  out["path"] = config.store.path;
  out["map_bytes"] = stats->map_bytes;
  nlohmann::ordered_json entries;
  for (const auto& [name, n] : stats->entries) entries[name] = n;
  out["entries"] = entries;
  nlohmann::ordered_json jobs;
  for (const auto& [name, n] : stats->jobs) jobs[name] = n;
  out["jobs"] = jobs;
  nlohmann::ordered_json counted = nlohmann::ordered_json::object();
  for (const auto& [series, value] : stats->counters) counted[series] = value;
  out["counters"] = counted;  // replies and job outcomes, counted by the workers
  return out;
}

// GET /metrics from the daemon; "" when it does not answer within 2 s.
std::string FetchMetrics(const std::string& listen) {
  std::string host;
  int port = 0;
  if (!metrics::SplitHostPort(listen, &host, &port)) return "";
  httplib::Client client(host, port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(2, 0);
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) return "";
  return response->body;
}

// Sample lines ("name{labels} value") of the text format, without comments and buckets.
nlohmann::ordered_json Counters(const std::string& text) {
  nlohmann::ordered_json out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.find("_bucket{") != std::string::npos) continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

}  // namespace

int RunStatsCommand(const config::Config& config, bool json) {
  nlohmann::ordered_json out;
  out["store"] = StoreFigures(config);
  if (config.metrics.listen.empty()) {
    out["daemon"] = "no [metrics] listen configured: counters are only in the daemon";
  } else {
    std::string text = FetchMetrics(config.metrics.listen);
    if (text.empty()) {
      out["daemon"] = "no answer from http://" + config.metrics.listen + "/metrics";
    } else {
      out["daemon"] = Counters(text);
    }
  }
  Print(out, json);
  return 0;
}

}  // namespace threadmill::ctl
