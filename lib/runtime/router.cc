#include "runtime/router.h"

#include <algorithm>

#include "common/ascii.h"

namespace threadmill::runtime {

Router::Router(std::vector<RouteRule> rules, OwnerRouting owner_routing,
               std::map<std::string, std::string> from)
    : rules_(std::move(rules)), owner_routing_(owner_routing), from_(std::move(from)) {}

Router Router::FromConfig(const RuntimeConfig& config) {
  std::map<std::string, std::string> from;
  for (const auto& [name, settings] : config.handlers) {
    if (!settings.from.empty()) from[name] = settings.from;
  }
  return Router(config.routes, config.owner_routing, std::move(from));
}

namespace {

// "local+detail@domain" -> "local@domain" (Postfix recipient_delimiter "+": the signed reply
// addresses of thread/reply_token.h are the handler's address with a +TOKEN).
std::string WithoutDetail(std::string_view address) {
  size_t at = address.rfind('@');
  size_t plus = address.substr(0, at).find('+');
  if (at == std::string_view::npos || plus == std::string_view::npos) return std::string(address);
  return std::string(address.substr(0, plus)) + std::string(address.substr(at));
}

}  // namespace

bool Router::IsOwnAddress(std::string_view handler, std::string_view address) const {
  const std::string base = WithoutDetail(address);
  auto it = from_.find(std::string(handler));
  if (it != from_.end() &&
      (ascii::EqualsIgnoreCase(it->second, address) || ascii::EqualsIgnoreCase(it->second, base))) {
    return true;
  }
  return std::any_of(rules_.begin(), rules_.end(), [&](const RouteRule& rule) {
    return rule.handler == handler &&
           (Matches(rule.pattern, address) || Matches(rule.pattern, base));
  });
}

bool Router::Matches(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with backtracking to the last '*': linear in practice.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && ascii::ToLower(pattern[p]) == ascii::ToLower(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<RouteMatch> Router::Route(const std::vector<std::string>& recipients,
                                      std::string_view thread_owner) const {
  std::vector<RouteMatch> out;
  for (const auto& rcpt : recipients) {
    for (const auto& rule : rules_) {
      if (!Matches(rule.pattern, rcpt)) continue;
      bool seen = std::any_of(out.begin(), out.end(), [&](const RouteMatch& m) {
        return m.recipient == rcpt && m.handler == rule.handler;
      });
      if (seen) continue;
      out.push_back({rcpt, rule.handler, rule.action, "route:" + rule.pattern});
    }
  }
  if (!thread_owner.empty() && !recipients.empty()) {
    bool routed = std::any_of(out.begin(), out.end(),
                              [&](const RouteMatch& m) { return m.handler == thread_owner; });
    const std::string* rcpt = nullptr;
    if (owner_routing_ == OwnerRouting::kThread) {
      rcpt = &recipients.front();
    } else {
      for (const auto& r : recipients) {
        if (IsOwnAddress(thread_owner, r)) {
          rcpt = &r;
          break;
        }
      }
    }
    if (!routed && rcpt) {
      out.push_back({*rcpt, std::string(thread_owner), RouteAction::kCopy, "thread-owner"});
    }
  }
  return out;
}

}  // namespace threadmill::runtime
