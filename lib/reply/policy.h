// policy.h - reply policies: how often a handler may answer, per handler and per route.
//
// DESCRIPTION
//   A reply policy decides the rate limits a reply is claimed under (ledger.h); the fixed
//   rules of rules.h (DMARC, authenticated sender and recipient, RFC 3834 suppression, the
//   References limit) and once per inbound message hold under every policy and no setting
//   lifts them. Two modes:
//     vacation      Sieve vacation :days (RFC 5230 section 4.1): one answer per (handler,
//                   sender) per sender_period_seconds, and at most max_replies_per_thread
//                   in one thread. For autoresponders.
//     conversation  for agents: every authenticated message of a thread is answered, guarded
//                   per thread (thread_replies_per_hour, a token bucket; a cap of
//                   max_replies_per_thread) and by a loop guard per (handler, sender): a
//                   message arriving less than loop_turn_seconds after the handler's last
//                   reply to that sender is faster than a person reads and types; after
//                   loop_max_fast_turns such answers in a row the next fast one is refused
//                   ("loop") until the correspondent is slower again.
//   Keys (every one optional):
//     [reply]  sender_period_seconds = 86400, max_replies_per_thread = 20 (vacation);
//              thread_replies_per_hour = 20, conversation_max_replies_per_thread = 200,
//              loop_turn_seconds = 30, loop_max_fast_turns = 5 (conversation)
//     [handler.NAME] reply_policy = "vacation" | "conversation", and any of the keys above
//              (without the conversation_ prefix: max_replies_per_thread applies to the
//              handler under both modes)
//     [[routes]] policy = "vacation" | "conversation": the mode of jobs that rule routed
//   A handler without reply_policy: "vacation" when it is the shipped autoreply (its name,
//   or its [handler.NAME] module, is "autoreply"), "conversation" otherwise
//   (docs/decisions.md).
//
// STANDARDS
//   RFC 5230 section 4.1 (:days), RFC 3834 section 2 (frequency of automatic responses).
//
// DIAGNOSTICS
//   ParsePolicies throws config::ConfigError ("FILE: handler.NAME.reply_policy: ...").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace threadmill::reply {

struct ReplyConfig;

enum class PolicyMode { kVacation, kConversation };
const char* ToString(PolicyMode mode);
// "vacation" / "conversation"; false for anything else.
bool ParsePolicyMode(std::string_view text, PolicyMode* out);

// The limits of one reply under its handler's policy (0 = off).
struct ReplyPolicy {
  PolicyMode mode = PolicyMode::kVacation;
  int64_t sender_period_seconds = 0;  // vacation only
  int64_t max_replies_per_thread = 0;
  int64_t thread_replies_per_hour = 0;  // conversation only
  int64_t loop_turn_seconds = 0;        // conversation only
  int64_t loop_max_fast_turns = 0;      // conversation only
};

// A handler's settings as configured; -1 = not set (the [reply] default of its mode).
struct HandlerPolicy {
  std::optional<PolicyMode> mode;
  std::string module;  // [handler.NAME] module, "" = the handler's own name
  int64_t sender_period_seconds = -1;
  int64_t max_replies_per_thread = -1;
  int64_t thread_replies_per_hour = -1;
  int64_t loop_turn_seconds = -1;
  int64_t loop_max_fast_turns = -1;
};

struct PolicyTable {
  std::map<std::string, HandlerPolicy> handlers;  // by handler name
  // [[routes]] policy, by RouteKey(handler, pattern).
  std::map<std::string, PolicyMode> routes;
  static std::string RouteKey(std::string_view handler, std::string_view pattern);
};

// Reads reply_policy and the limits of every [handler.NAME] and the policy of every
// [[routes]] rule. Throws config::ConfigError.
PolicyTable ParsePolicies(const config::Config& config);

// The mode of a handler without reply_policy (see file comment).
PolicyMode DefaultMode(std::string_view handler, std::string_view module);

// The policy of a reply by `handler` to a job routed as `route` ("route:PATTERN",
// "thread-owner" or "" when unknown): the route's mode over the handler's, the handler's
// limits over [reply]'s. Pure.
ReplyPolicy PolicyFor(const ReplyConfig& config, std::string_view handler, std::string_view route);

}  // namespace threadmill::reply
