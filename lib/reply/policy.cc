#include "reply/policy.h"

#include "config/toml_reader.h"
#include "reply/reply_config.h"

namespace threadmill::reply {
namespace {

constexpr int64_t kMaxSeconds = int64_t{10} * 365 * 86400;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

HandlerPolicy ParseHandlerPolicy(const config::TomlReader& r) {
  HandlerPolicy h;
  std::string mode;
  r.Get("reply_policy", &mode);
  if (!mode.empty()) {
    PolicyMode m;
    if (!ParsePolicyMode(mode, &m)) {
      r.Fail("reply_policy", "must be \"vacation\" or \"conversation\" (got \"" + mode + "\")");
    }
    h.mode = m;
  }
  r.Get("module", &h.module);
  r.Get("sender_period_seconds", &h.sender_period_seconds, 0, kMaxSeconds);
  r.Get("max_replies_per_thread", &h.max_replies_per_thread, 0, 1000000);
  r.Get("thread_replies_per_hour", &h.thread_replies_per_hour, 0, 1000000);
  r.Get("loop_turn_seconds", &h.loop_turn_seconds, 0, 86400);
  r.Get("loop_max_fast_turns", &h.loop_max_fast_turns, 0, 1000000);
  return h;
}

}  // namespace

const char* ToString(PolicyMode mode) {
  return mode == PolicyMode::kConversation ? "conversation" : "vacation";
}

bool ParsePolicyMode(std::string_view text, PolicyMode* out) {
  if (text == "vacation") {
    *out = PolicyMode::kVacation;
  } else if (text == "conversation") {
    *out = PolicyMode::kConversation;
  } else {
    return false;
  }
  return true;
}

std::string PolicyTable::RouteKey(std::string_view handler, std::string_view pattern) {
  return std::string(handler) + '\0' + Lower(pattern);
}

PolicyTable ParsePolicies(const config::Config& config) {
  PolicyTable out;
  std::string file = config::ConfigFileName(config);
  if (const toml::table* section = config::SectionTable(config, "handler")) {
    for (const auto& [key, node] : *section) {
      const toml::table* table = node.as_table();
      if (!table) continue;  // runtime_config.h reports it
      std::string name(key.str());
      out.handlers[name] = ParseHandlerPolicy(config::TomlReader(table, "handler." + name, file));
    }
  }
  if (const toml::node* routes = config.document.get("routes")) {
    if (const toml::array* array = routes->as_array()) {
      size_t index = 0;
      for (const toml::node& item : *array) {
        const toml::table* table = item.as_table();
        if (!table) continue;  // runtime_config.h reports it
        config::TomlReader r(table, "routes[" + std::to_string(index++) + "]", file);
        std::string mode, handler, pattern;
        r.Get("policy", &mode);
        if (mode.empty()) continue;
        PolicyMode m;
        if (!ParsePolicyMode(mode, &m)) {
          r.Fail("policy", "must be \"vacation\" or \"conversation\" (got \"" + mode + "\")");
        }
        r.Get("handler", &handler);
        r.Get("recipient", &pattern);
        out.routes[PolicyTable::RouteKey(handler, pattern)] = m;
      }
    }
  }
  return out;
}

PolicyMode DefaultMode(std::string_view handler, std::string_view module) {
  std::string_view what = module.empty() ? handler : module;
  return what == "autoreply" ? PolicyMode::kVacation : PolicyMode::kConversation;
}

ReplyPolicy PolicyFor(const ReplyConfig& config, std::string_view handler, std::string_view route) {
  static const HandlerPolicy kUnset;
  auto it = config.policies.handlers.find(std::string(handler));
  const HandlerPolicy& h = it == config.policies.handlers.end() ? kUnset : it->second;
  ReplyPolicy p;
  p.mode = h.mode ? *h.mode : DefaultMode(handler, h.module);
  constexpr std::string_view kRoute = "route:";
  if (route.substr(0, kRoute.size()) == kRoute) {
    auto r =
        config.policies.routes.find(PolicyTable::RouteKey(handler, route.substr(kRoute.size())));
    if (r != config.policies.routes.end()) p.mode = r->second;
  }
  auto pick = [](int64_t mine, int64_t fallback) { return mine >= 0 ? mine : fallback; };
  if (p.mode == PolicyMode::kVacation) {
    p.sender_period_seconds = pick(h.sender_period_seconds, config.sender_period_seconds);
    p.max_replies_per_thread = pick(h.max_replies_per_thread, config.max_replies_per_thread);
  } else {
    p.max_replies_per_thread =
        pick(h.max_replies_per_thread, config.conversation_max_replies_per_thread);
    p.thread_replies_per_hour = pick(h.thread_replies_per_hour, config.thread_replies_per_hour);
    p.loop_turn_seconds = pick(h.loop_turn_seconds, config.loop_turn_seconds);
    p.loop_max_fast_turns = pick(h.loop_max_fast_turns, config.loop_max_fast_turns);
  }
  return p;
}

}  // namespace threadmill::reply
