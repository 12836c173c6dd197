#include "ctl/stats_command.h"

#include <cstdio>
#include <sstream>

#include <httplib.h>

#include "admin/store_access.h"
#include "admin/store_stats.h"
#include "ctl/output.h"
#include "metrics/http_listener.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;
namespace {

nlohmann::ordered_json Object(const admin::Figures& figures) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [name, n] : figures) out[name] = n;
  return out;
}

// LMDB: the local environment. Shared (PostgreSQL): the totals of every host, then this
// host's local fallback spool.
nlohmann::ordered_json StoreFigures(const config::Config& config) {
  auto env = OpenEnvironment(config, /*write=*/false);
  const std::string spool = config.store.path + "/spool";
  auto stats = admin::ReadStoreStats(env, spool);
  if (!stats.ok()) throw std::runtime_error(stats.error().message);
  nlohmann::ordered_json out;
  if (!stats->shared) {
    out["path"] = config.store.path;
    out["map_bytes"] = stats->map_bytes;
    out["entries"] = Object(stats->entries);
    out["jobs"] = Object(stats->jobs);
    out["counters"] = Object(stats->counters);  // replies and job outcomes, counted by the workers
    return out;
  }
  out["backend"] = stats->backend;
  out["totals"] = "of every host sharing the database";
  if (!stats->error.empty()) out["error"] = stats->error;
  out["entries"] = Object(stats->entries);  // rows per table
  out["jobs"] = Object(stats->jobs);        // the shared queue
  out["counters"] = Object(stats->counters);
  nlohmann::ordered_json local;
  local["path"] = config.store.path;
  local["map_bytes"] = stats->map_bytes;
  local["jobs"] = Object(stats->local_jobs);
  local["waiting_to_push"] = stats->waiting_to_push;  // spooled while the database was away
  out["local_spool"] = local;
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
