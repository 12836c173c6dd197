// action.h - the JSON answer a program (exec) or a web service (webhook) gives for one
// inbound message, and carrying it out through the host API.
//
// DESCRIPTION
//   The answer is one JSON object:
//     {"action": "reply" | "draft" | "none", "text": "...", "html": "...",
//      "kv_put": {"key": value, ...}, "kv_delete": ["key", ...]}
//   An empty (whitespace-only) answer means "none". "action" defaults to "none" when absent.
//   kv_put values that are strings are stored as their bytes, anything else as its JSON text.
//   ApplyAction does kv_delete, then kv_put, then the reply or draft, so a job retried after a
//   store error repeats the same idempotent steps; threadmill itself makes sure one inbound
//   message gets at most one reply.
//
// DIAGNOSTICS
//   Host refusals (THREADMILL_REFUSED: a reply rule said no) are logged at info and are not an
//   error: the job is done. THREADMILL_INVALID / NOT_FOUND → THREADMILL_FAIL (retrying cannot
//   help); store or internal trouble → THREADMILL_RETRY.
#pragma once

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
};

struct ParsedAction {
  bool ok = false;
  Action action;
  std::string error;  // why the answer was rejected, when !ok
};

// Parses an answer. Never throws.
ParsedAction ParseAction(std::string_view body);

// Carries out `action` for `envelope`; returns THREADMILL_OK, THREADMILL_RETRY or
// THREADMILL_FAIL and logs every step that did not simply succeed. `who` names the source of
// the answer in log lines (e.g. "program /usr/bin/x" or "https://host/path").
int ApplyAction(Context& ctx, const threadmill_envelope& envelope, const Action& action,
                const std::string& who);

}  // namespace threadmill::handlers::common
