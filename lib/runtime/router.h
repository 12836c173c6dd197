// router.h - which handlers get an inbound message, and whether its recipient is kept.
//
// DESCRIPTION
//   Route() is called by the milter once per inbound message (end of message). For each
//   local recipient, every [[routes]] rule whose pattern matches gives a RouteMatch, in
//   configuration order; a rule names a handler once per recipient. A message that answers
//   a thread owned by a handler (thread_owner, from the thread store) also goes to that
//   handler, once per message (action copy), when no rule already sent it there:
//     owner_routing = "own-addresses" (the default): only when a recipient is one of the
//       handler's own addresses, i.e. its [handler.NAME] from, or an address one of its
//       route patterns matches; the first such recipient is the job's. Mail in the thread
//       addressed to people (alice@ in a conversation the bot started) goes to people only.
//     owner_routing = "thread": for the first recipient, whoever it is (the behaviour
//       before issue 10: the handler then answers as that person).
//   Patterns: an address ("help@example.com"), or with '*' wildcards matching any run of
//   characters ("*@support.example.com", "reply+*@example.com"); comparison is ASCII
//   case-insensitive.
//
//   Action consume means the milter removes that recipient (smfi_delrcpt) after the job is
//   committed, and discards the message when no recipient is left; copy (the default) lets
//   the message be delivered as usual.
//
// THREADING
//   Immutable after construction; Route() is thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/runtime_config.h"

namespace threadmill::runtime {

struct RouteMatch {
  std::string recipient;  // as given to Route()
  std::string handler;
  RouteAction action = RouteAction::kCopy;
  std::string why;  // "route:PATTERN" or "thread-owner"
};

class Router {
 public:
  // `from`: each handler's own sending address ([handler.NAME] from), by handler name.
  explicit Router(std::vector<RouteRule> rules,
                  OwnerRouting owner_routing = OwnerRouting::kOwnAddresses,
                  std::map<std::string, std::string> from = {});
  // The routes, owner routing and handlers' from addresses of a configuration.
  static Router FromConfig(const RuntimeConfig& config);

  std::vector<RouteMatch> Route(const std::vector<std::string>& recipients,
                                std::string_view thread_owner) const;

  // True when `address` is one of `handler`'s own addresses (see file comment). Pure.
  bool IsOwnAddress(std::string_view handler, std::string_view address) const;

  // True when `text` matches `pattern` ('*' = any run; ASCII case-insensitive). Pure.
  static bool Matches(std::string_view pattern, std::string_view text);

  const std::vector<RouteRule>& rules() const { return rules_; }

 private:
  std::vector<RouteRule> rules_;
  OwnerRouting owner_routing_;
  std::map<std::string, std::string> from_;
};

}  // namespace threadmill::runtime
