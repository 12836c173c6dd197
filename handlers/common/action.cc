// action.cc - see action.h.
#include "action.h"

#include <cstddef>
#include <nlohmann/json.hpp>

#include "bridge_calls.h"

namespace threadmill::handlers::common {
namespace {

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

ParsedAction Reject(std::string error) {
  ParsedAction out;
  out.error = std::move(error);
  return out;
}

// Maps a host status for step `what` to a job status (OK, RETRY or FAIL), logging problems.
int JobStatus(Context& ctx, const HostStatus& st, const std::string& what) {
  switch (st.code) {
    case THREADMILL_OK:
      return THREADMILL_OK;
    case THREADMILL_REFUSED:
      ctx.log(THREADMILL_LOG_INFO, what + " refused: " + st.reason);
      return THREADMILL_OK;
    case THREADMILL_INVALID:
    case THREADMILL_NOT_FOUND:
      ctx.log(THREADMILL_LOG_ERROR, what + " rejected as invalid: " + st.reason);
      return THREADMILL_FAIL;
    default:
      ctx.log(THREADMILL_LOG_WARN,
              what + " failed (status " + std::to_string(st.code) + "), will retry");
      return THREADMILL_RETRY;
  }
}

}  // namespace

ParsedAction ParseAction(std::string_view body) {
  ParsedAction out;
  if (IsBlank(body)) {
    out.ok = true;
    return out;
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Reject("answer is not valid JSON");
  if (!j.is_object()) return Reject("answer is not a JSON object");

  Action& a = out.action;
  auto kind = j.find("action");
  if (kind != j.end() && !kind->is_null()) {
    if (!kind->is_string()) return Reject("\"action\" is not a string");
    const std::string& k = kind->get_ref<const std::string&>();
    if (k == "reply") {
      a.kind = Action::Kind::kReply;
    } else if (k == "draft") {
      a.kind = Action::Kind::kDraft;
    } else if (k == "none") {
      a.kind = Action::Kind::kNone;
    } else {
      return Reject("unknown action \"" + k + "\"");
    }
  }
  if (a.kind != Action::Kind::kNone) {
    auto text = j.find("text");
    if (text == j.end() || !text->is_string() || text->get_ref<const std::string&>().empty()) {
      return Reject("a reply or draft needs a non-empty \"text\" string");
    }
    a.text = text->get<std::string>();
    auto html = j.find("html");
    if (html != j.end() && !html->is_null()) {
      if (!html->is_string()) return Reject("\"html\" is not a string");
      a.html = html->get<std::string>();
      a.has_html = true;
    }
  }
  auto put = j.find("kv_put");
  if (put != j.end() && !put->is_null()) {
    if (!put->is_object()) return Reject("\"kv_put\" is not an object");
    for (auto it = put->begin(); it != put->end(); ++it) {
      if (it.key().empty()) return Reject("\"kv_put\" has an empty key");
      std::string value = it->is_string()
                              ? it->get<std::string>()
                              : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      a.kv_put.emplace_back(it.key(), std::move(value));
    }
  }
  auto del = j.find("kv_delete");
  if (del != j.end() && !del->is_null()) {
    if (!del->is_array()) return Reject("\"kv_delete\" is not an array");
    for (const auto& key : *del) {
      if (!key.is_string() || key.get_ref<const std::string&>().empty()) {
        return Reject("\"kv_delete\" holds something other than non-empty strings");
      }
      a.kv_delete.push_back(key.get<std::string>());
    }
  }
  auto actions = j.find("actions");
  if (actions != j.end() && !actions->is_null()) {
    if (!actions->is_array()) return Reject("\"actions\" is not an array");
    size_t n = 0;
    for (const auto& item : *actions) {
      ++n;
      auto call = item.is_object() ? item.find("call") : item.end();
      if (!item.is_object() || call == item.end() || !call->is_string()) {
        return Reject("action " + std::to_string(n) + " is not an object with a \"call\"");
      }
      const CallSpec* spec = FindCall(call->get_ref<const std::string&>());
      if (!spec || !spec->action) {
        return Reject("action " + std::to_string(n) + ": \"" + call->get_ref<const std::string&>() +
                      "\" is not an action (reply, draft, send, kv_put, kv_delete, log)");
      }
      a.calls.push_back(item);
    }
  }
  out.ok = true;
  return out;
}

// Runs the "actions" of an answer in order; logs each result.
static int ApplyCalls(Context& ctx, const threadmill_envelope* envelope, const Action& action,
                      const std::string& who) {
  CallScope scope{ctx, envelope};
  const std::string total = std::to_string(action.calls.size());
  for (size_t i = 0; i < action.calls.size(); ++i) {
    const nlohmann::json& request = action.calls[i];
    const std::string what = "action " + std::to_string(i + 1) + "/" + total + " " +
                             request["call"].get<std::string>() + " (asked by " + who + ")";
    CallOutcome outcome = RunCall(scope, request);
    if (outcome.status.ok()) {
      ctx.log(THREADMILL_LOG_INFO,
              what + ": ok" +
                  (outcome.fields.empty()
                       ? ""
                       : " " + outcome.fields.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace)));
      continue;
    }
    int rc = JobStatus(ctx, outcome.status, what);
    if (rc != THREADMILL_OK) return rc;
  }
  return THREADMILL_OK;
}

int ApplyAction(Context& ctx, const threadmill_envelope* envelope, const Action& action,
                const std::string& who) {
  for (const std::string& key : action.kv_delete) {
    HostStatus st = ctx.kv_delete(key);
    if (st.not_found()) continue;
    int rc = JobStatus(ctx, st, "kv_delete " + key + " (asked by " + who + ")");
    if (rc != THREADMILL_OK) return rc;
  }
  for (const auto& [key, value] : action.kv_put) {
    int rc = JobStatus(ctx, ctx.kv_put(key, value), "kv_put " + key + " (asked by " + who + ")");
    if (rc != THREADMILL_OK) return rc;
  }
  const char* message_id =
      envelope && envelope->channel_message_id ? envelope->channel_message_id : "";
  const std::string html = action.has_html ? action.html : std::string();
  int rc = THREADMILL_OK;
  switch (action.kind) {
    case Action::Kind::kNone:
      if (action.calls.empty()) ctx.log(THREADMILL_LOG_DEBUG, who + " asked for no reply");
      break;
    case Action::Kind::kReply: {
      HostStatus st = ctx.reply(message_id, action.text, html);
      if (st) ctx.log(THREADMILL_LOG_INFO, "replied (" + who + ")");
      rc = JobStatus(ctx, st, "reply to " + std::string(message_id));
      break;
    }
    case Action::Kind::kDraft: {
      HostResult<std::string> draft = ctx.draft(message_id, action.text, html);
      if (draft) ctx.log(THREADMILL_LOG_INFO, "stored draft " + *draft + " (" + who + ")");
      rc = JobStatus(ctx, draft.status(), "draft for " + std::string(message_id));
      break;
    }
  }
  if (rc != THREADMILL_OK) return rc;
  return ApplyCalls(ctx, envelope, action, who);
}

}  // namespace threadmill::handlers::common
