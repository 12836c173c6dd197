#include "ctl/stats_command.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "common/unique_fd.h"
#include "ctl/output.h"
#include "admin/store_access.h"
#include "admin/store_stats.h"
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
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return "";
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return "";
  std::string response;
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
    send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
    char buf[8192];
    pollfd p{fd.get(), POLLIN, 0};
    while (poll(&p, 1, 2000) > 0) {
      ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      response.append(buf, static_cast<size_t>(n));
    }
  }
  auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.0 200", 0) != 0 || body == std::string::npos) return "";
  return response.substr(body + 4);
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
