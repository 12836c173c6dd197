// bridge_calls.h - the host calls of the bridge protocol (exec's session mode, webhook
// "actions"): one table entry per call, each a JSON request in, a JSON result out, carried out
// through handler.hpp's Context (the real host table: the same reply rules as a C handler).
//
// DESCRIPTION
//   A request is a JSON object {"call":"NAME", ...arguments}. RunCall looks NAME up in
//   CallTable(), checks the arguments and calls the host; the outcome is the host's status
//   (HostStatus: code and last_error() reason) plus the result's fields. AnswerJson turns it
//   into the answer object: {"ok":true, ...fields} or
//   {"ok":false, "status":"refused|invalid|not_found|store|internal", "error":"reason"}.
//   The calls (arguments → result fields; bytes travel as base64):
//     kv_get      key                                  → found, value | value_base64
//     kv_put      key, value (string: its bytes; other JSON: its text) | value_base64
//     kv_delete   key                                  → deleted
//     kv_list     prefix="", start_after="", limit=100 (1..1000), include_values=false
//                                                      → items [{key, value|value_base64}],
//                                                        more, next (the last key, to page),
//                                                        incomplete (see LIMITS)
//     send        to (string or list), subject, text   → thread_id
//     reply       text, html?, message_id? (default: the current message)
//     draft       text, html?, message_id?             → draft_id
//     attachment  file_id                              → data_base64, size
//     raw_message                                      → data_base64, size
//     config_get  key                                  → found, value
//     log         message, level = debug|info|warn|error (default info)
//   A value that is valid UTF-8 comes back as "value", any other as "value_base64".
//   A new host call is one function and one CallTable() entry; a program sees the list in the
//   session's start line.
//
// LIMITS
//   kv_list reads up to 10,000 keys under the prefix from the host (ABI 1.0 has no cursor) and
//   pages over those: keys past the 10,000th of a prefix need a longer prefix; the last page
//   says "incomplete": true when there may be such keys. Values are
//   then read one by one. Calls that need the current message (reply, draft, attachment,
//   raw_message) fail with status "invalid" in a heartbeat.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "threadmill/handler.hpp"

namespace threadmill::handlers::common {

// What a call acts on. envelope: the current inbound message, nullptr in a heartbeat.
struct CallScope {
  Context& ctx;
  const threadmill_envelope* envelope;
};

struct CallOutcome {
  HostStatus status;                                 // code THREADMILL_OK, or the failure
  nlohmann::json fields = nlohmann::json::object();  // result fields when ok
};

using CallFn = CallOutcome (*)(CallScope& scope, const nlohmann::json& request);

struct CallSpec {
  const char* name;
  CallFn run;
  // Allowed in a webhook response's "actions": the call changes something and its result is
  // only logged (reads such as kv_get make no sense there).
  bool action;
};

const std::vector<CallSpec>& CallTable();
const CallSpec* FindCall(std::string_view name);
std::vector<std::string> CallNames();

// Runs request["call"]; an unknown call or a bad argument is THREADMILL_INVALID with a reason
// ("unknown-call", "bad-argument: ..."). Never throws except std::bad_alloc.
CallOutcome RunCall(CallScope& scope, const nlohmann::json& request);

// "refused", "invalid", "not_found", "store", "internal" (or "status-N").
std::string StatusName(int code);

nlohmann::json AnswerJson(const CallOutcome& outcome);

}  // namespace threadmill::handlers::common
