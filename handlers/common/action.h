// action.h - the JSON answer a program (exec) or a web service (webhook) gives for one
// inbound message, and carrying it out through the host API.
//
// DESCRIPTION
//   The answer is one JSON object:
//     {"action": "reply" | "draft" | "none", "text": "...", "html": "...",
//      "kv_put": {"key": value, ...}, "kv_delete": ["key", ...],
//      "actions": [{"call": "reply" | "draft" | "send" | "kv_put" | "kv_delete" | "log", ...}]}
//   An empty (whitespace-only) answer means "none". "action" defaults to "none" when absent.
//   kv_put values that are strings are stored as their bytes, anything else as its JSON text.
//   ApplyAction does kv_delete, then kv_put, then the reply or draft, so a job retried after a
//   store error repeats the same idempotent steps; threadmill itself makes sure one inbound
//   message gets at most one reply. Then each of "actions" in order: a request of the bridge
//   protocol (bridge_calls.h) whose call changes something; each result is one log line
//   ("action 2/3 send: ok {"thread_id":"T..."}"). A send repeated by a retried job is
//   remembered by the host (per job and position) and not sent twice.
//
// DIAGNOSTICS
//   Host refusals (THREADMILL_REFUSED: a reply rule said no) are logged at info and are not an
//   error: the job is done. THREADMILL_INVALID / NOT_FOUND → THREADMILL_FAIL (retrying cannot
//   help); store or internal trouble → THREADMILL_RETRY. The first action that ends the job
//   (RETRY or FAIL) stops the ones after it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "threadmill/handler.hpp"

namespace threadmill::handlers::common {

struct Action {
  enum class Kind { kNone, kReply, kDraft };
  Kind kind = Kind::kNone;
  std::string text;
  std::string html;
  bool has_html = false;
  std::vector<std::pair<std::string, std::string>> kv_put;
  std::vector<std::string> kv_delete;
  std::vector<nlohmann::json> calls;  // "actions": bridge requests, checked by ParseAction
};

struct ParsedAction {
  bool ok = false;
  Action action;
  std::string error;  // why the answer was rejected, when !ok
};

// Parses an answer. Never throws.
ParsedAction ParseAction(std::string_view body);

// Carries out `action` for `envelope` (nullptr: a heartbeat; only "actions" then); returns
// THREADMILL_OK, THREADMILL_RETRY or THREADMILL_FAIL and logs every step that did not simply
// succeed. `who` names the source of the answer in log lines (e.g. "program /usr/bin/x" or
// "https://host/path").
int ApplyAction(Context& ctx, const threadmill_envelope* envelope, const Action& action,
                const std::string& who);

}  // namespace threadmill::handlers::common
