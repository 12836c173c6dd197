// router.h - which handlers get an inbound message, and whether its recipient is kept.
//
// DESCRIPTION
//   Route() is called by the milter once per inbound message (end of message). For each
//   local recipient, every [[routes]] rule whose pattern matches gives a RouteMatch, in
//   configuration order; a rule names a handler once per recipient. A message that answers
//   a thread owned by a handler (thread_owner, from the thread store) also goes to that
//   handler, once per message, for the first recipient that no rule already sent to it
//   (action copy). Patterns: an address ("help@example.com"), or with '*' wildcards matching
//   any run of characters ("*@support.example.com", "reply+*@example.com"); comparison is
//   ASCII case-insensitive.
//
//   Action consume means the milter removes that recipient (smfi_delrcpt) after the job is
//   committed, and discards the message when no recipient is left; copy (the default) lets
//   the message be delivered as usual.
//
// THREADING
//   Immutable after construction; Route() is thread-safe.
#pragma once

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
  explicit Router(std::vector<RouteRule> rules);

  std::vector<RouteMatch> Route(const std::vector<std::string>& recipients,
                                std::string_view thread_owner) const;

  // True when `text` matches `pattern` ('*' = any run; ASCII case-insensitive). Pure.
  static bool Matches(std::string_view pattern, std::string_view text);

  const std::vector<RouteRule>& rules() const { return rules_; }

 private:
  std::vector<RouteRule> rules_;
};

}  // namespace threadmill::runtime
