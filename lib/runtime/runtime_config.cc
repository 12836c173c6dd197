#include "runtime/runtime_config.h"

#include <algorithm>
#include <sstream>

#include "config/toml_reader.h"

namespace threadmill::runtime {
namespace {

using config::TomlReader;

bool ValidHandlerName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string NodeToString(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  std::ostringstream out;
  if (node.is_table() || node.is_array()) {
    out << toml::json_formatter{node};
  } else {
    node.visit([&](const auto& v) {
      if constexpr (toml::is_boolean<decltype(v)>) {
        out << (v.get() ? "true" : "false");
      } else if constexpr (toml::is_number<decltype(v)>) {
        out << v.get();
      } else {
        out << v;
      }
    });
  }
  return out.str();
}

HandlerSettings ParseHandler(const std::string& name, const toml::table& table,
                             const std::string& file) {
  HandlerSettings h;
  h.name = name;
  std::ostringstream json;
  json << toml::json_formatter{table};
  h.config_json = json.str();
  for (const auto& [key, node] : table) h.values[std::string(key.str())] = NodeToString(node);
  TomlReader r(&table, "handler." + name, file);
  r.Get("from", &h.from);
  r.Get("from_name", &h.from_name);
  r.Get("heartbeat_seconds", &h.heartbeat_seconds, 0, 86400 * 7);
  r.Get("sends_per_hour", &h.sends_per_hour, 0, 1000000);
  r.Get("sends_per_job", &h.sends_per_job, 0, 10000);
  r.Get("module", &h.module);
  r.Get("workers", &h.workers, 1, 64);
  r.Get("job_timeout_seconds", &h.job_timeout_seconds, 1, 86400);
  r.Get("recycle_after_jobs", &h.recycle_after_jobs, 1, 100000000);
  if (table.contains("module") && h.module.empty()) {
    r.Fail("module", "must name a module (its handler name or its file name in [handlers] dir)");
  }
  if (h.module.find('/') != std::string::npos) {
    r.Fail("module", "must be a module's handler name or file name, not a path");
  }
  r.Get("draft_expiry_hours", &h.draft_expiry_hours, 0, 24 * 3660);
  if (!h.from.empty() && (h.from.find('@') == std::string::npos ||
                          h.from.find_first_of(" <>\r\n\t,") != std::string::npos)) {
    r.Fail("from", "must be a plain address (local@domain)");
  }
  return h;
}

RouteRule ParseRoute(const toml::table& table, size_t index, const std::string& file) {
  TomlReader r(&table, "routes[" + std::to_string(index) + "]", file);
  r.RejectUnknown({"recipient", "handler", "action", "policy"});  // policy: reply/policy.h
  RouteRule rule;
  r.Get("recipient", &rule.pattern);
  r.Get("handler", &rule.handler);
  std::string action = "copy";
  r.Get("action", &action);
  if (rule.pattern.empty()) r.Fail("recipient", "is required (an address or a * pattern)");
  if (rule.pattern.find('@') == std::string::npos) {
    r.Fail("recipient", "must contain '@' (e.g. help@example.com or *@example.com)");
  }
  for (char& c : rule.pattern) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!ValidHandlerName(rule.handler)) r.Fail("handler", "must be a handler name [a-z0-9_-]+");
  if (action == "copy") {
    rule.action = RouteAction::kCopy;
  } else if (action == "consume") {
    rule.action = RouteAction::kConsume;
  } else {
    r.Fail("action", "must be \"copy\" or \"consume\"");
  }
  return rule;
}

}  // namespace

const char* ToString(RouteAction action) {
  return action == RouteAction::kConsume ? "consume" : "copy";
}

const char* ToString(OwnerRouting mode) {
  return mode == OwnerRouting::kThread ? "thread" : "own-addresses";
}

const HandlerSettings& RuntimeConfig::handler(const std::string& name) const {
  static const HandlerSettings kEmpty = [] {
    HandlerSettings h;
    h.config_json = "{}";
    return h;
  }();
  auto it = handlers.find(name);
  return it == handlers.end() ? kEmpty : it->second;
}

int64_t RuntimeConfig::workers_of(const std::string& name) const {
  int64_t own = handler(name).workers;
  return own > 0 ? own : workers;
}
int64_t RuntimeConfig::job_timeout_of(const std::string& name) const {
  int64_t own = handler(name).job_timeout_seconds;
  return own > 0 ? own : job_timeout_seconds;
}
int64_t RuntimeConfig::recycle_after_of(const std::string& name) const {
  int64_t own = handler(name).recycle_after_jobs;
  return own > 0 ? own : recycle_after_jobs;
}
int64_t RuntimeConfig::DraftExpirySeconds(const std::string& name) const {
  const int64_t hours = handler(name).draft_expiry_hours;
  return (hours >= 0 ? hours : draft_expiry_hours) * 3600;
}

store::EnvOptions StoreOptions(const config::Config& config) {
  store::EnvOptions options;
  options.path = config.store.path;
  options.map_size_bytes = static_cast<size_t>(config.store.map_size_mb) << 20;
  options.max_map_size_bytes = static_cast<size_t>(config.store.max_map_size_mb) << 20;
  options.sync_each_commit = config.store.sync_each_commit;
  options.backend = config.store.backend;
  options.dsn = config.store.dsn;
  options.connect_timeout_ms = config.store.connect_timeout_ms;
  options.statement_timeout_ms = config.store.statement_timeout_ms;
  options.host_id = config.store.host_id;
  options.retention_seconds = config.store.retention_days * 86400;
  return options;
}

RuntimeConfig ParseRuntimeConfig(const config::Config& config) {
  RuntimeConfig out;
  std::string file = config::ConfigFileName(config);
  out.store_path = config.store.path;
  out.store = StoreOptions(config);
  out.reply = reply::ParseReplyConfig(config);
  out.reply.gate_dir = out.spool_dir() + "/gates";
  out.auth = config.auth;

  TomlReader handlers(config::SectionTable(config, "handlers"), "handlers", file);
  handlers.RejectUnknown({"dir", "spool_quota_mb", "max_routed_recipients", "worker_memory_mb",
                          "owner_routing", "thread_messages_max"});
  handlers.Get("dir", &out.handlers_dir);
  handlers.Get("spool_quota_mb", &out.spool_quota_mb, 1, int64_t{1} << 40);
  handlers.Get("max_routed_recipients", &out.max_routed_recipients, 1, 100000);
  handlers.Get("worker_memory_mb", &out.worker_memory_mb, 0, 1 << 20);
  handlers.Get("thread_messages_max", &out.thread_messages_max, 1, 100000);
  if (out.worker_memory_mb > 0 && out.worker_memory_mb < 32) {
    handlers.Fail("worker_memory_mb", "must be 0 (no limit) or at least 32");
  }
  if (out.handlers_dir.empty() || out.handlers_dir.front() != '/') {
    handlers.Fail("dir", "must be an absolute path");
  }
  std::string owner_routing = ToString(out.owner_routing);
  handlers.Get("owner_routing", &owner_routing);
  if (owner_routing == "thread") {
    out.owner_routing = OwnerRouting::kThread;
  } else if (owner_routing != "own-addresses") {
    handlers.Fail("owner_routing", "must be \"own-addresses\" or \"thread\"");
  }

  TomlReader rt(config::SectionTable(config, "runtime"), "runtime", file);
  rt.RejectUnknown({"workers", "job_timeout_seconds", "max_attempts", "retry_initial_seconds",
                    "retry_max_seconds", "recycle_after_jobs", "heartbeat_seconds",
                    "poll_interval_ms", "done_retention_seconds", "stop_timeout_seconds",
                    "draft_expiry_hours"});
  rt.Get("workers", &out.workers, 1, 64);
  rt.Get("job_timeout_seconds", &out.job_timeout_seconds, 1, 86400);
  rt.Get("max_attempts", &out.max_attempts, 1, 1000);
  rt.Get("retry_initial_seconds", &out.retry_initial_seconds, 0, 86400);
  rt.Get("retry_max_seconds", &out.retry_max_seconds, 0, 86400 * 7);
  rt.Get("recycle_after_jobs", &out.recycle_after_jobs, 1, 100000000);
  rt.Get("heartbeat_seconds", &out.heartbeat_seconds, 0, 86400 * 7);
  rt.Get("poll_interval_ms", &out.poll_interval_ms, 10, 60000);
  rt.Get("done_retention_seconds", &out.done_retention_seconds, 0, 86400 * 365);
  rt.Get("stop_timeout_seconds", &out.stop_timeout_seconds, 1, 3600);
  rt.Get("draft_expiry_hours", &out.draft_expiry_hours, 0, 24 * 3660);

  if (const toml::table* section = config::SectionTable(config, "handler")) {
    for (const auto& [key, node] : *section) {
      std::string name(key.str());
      if (!ValidHandlerName(name)) {
        throw config::ConfigError(file + ": handler." + name +
                                  ": handler names are [a-z0-9_-]+, at most 64 bytes");
      }
      const toml::table* table = node.as_table();
      if (!table) {
        throw config::ConfigError(file + ": handler." + name + ": must be a table");
      }
      out.handlers[name] = ParseHandler(name, *table, file);
    }
  }

  if (const toml::node* routes = config.document.get("routes")) {
    const toml::array* array = routes->as_array();
    if (!array) {
      throw config::ConfigError(file + ": routes: must be an array of tables ([[routes]])");
    }
    size_t index = 0;
    for (const toml::node& item : *array) {
      const toml::table* table = item.as_table();
      if (!table) {
        throw config::ConfigError(file + ": routes[" + std::to_string(index) +
                                  "]: must be a table");
      }
      out.routes.push_back(ParseRoute(*table, index, file));
      ++index;
    }
  }
  int64_t longest = out.job_timeout_seconds;
  for (const auto& [name, handler] : out.handlers) {
    longest = std::max(longest, handler.job_timeout_seconds);
  }
  out.reply.claim_lease_seconds = reply::ClaimLease(out.reply, longest);
  return out;
}

}  // namespace threadmill::runtime
