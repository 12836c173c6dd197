// autoreply.cc - the "autoreply" handler: a vacation-style answer from a template, at most
// once per sender per period, never to automatic, list or system mail.
//
// STANDARDS
//   RFC 5230 (Sieve vacation: :days, :addresses, previous response tracking), RFC 3834.
//
// DESCRIPTION
//   [handler.autoreply] config: template or template_file (required), html_template or
//   html_template_file, days (default 7), addresses, only_if_addressed (default true); see
//   handlers/autoreply/README.md. For each message: vacation_rules.h decides whether to stay
//   silent; then kv "sent:<sender>" (unix seconds of the last answer to that envelope sender)
//   decides whether the period has passed; then host->reply sends the rendered template and the
//   time is recorded. "Now" is the message's received_time, so a retried job judges the
//   period as the first attempt did.
//
// DIAGNOSTICS
//   A silenced message or a reply refused by threadmill's rules is one info line and the job
//   is done. Store trouble → THREADMILL_RETRY; a reply rejected as invalid → THREADMILL_FAIL.
//
// LIMITS
//   The reply's Subject ("Re: ...") and From are threadmill's (host->reply has no subject),
//   unlike Sieve's :subject and :from. Tracking is per envelope sender, not per template:
//   changing the template does not reset it (Sieve's :handle).
//   The ABI gives on_inbound no host table, so the one from init is kept in a module-level
//   pointer (the host promises it lives as long as the module is loaded).
#include <atomic>
#include <charconv>
#include <cstddef>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support.h"
#include "template.h"
#include "threadmill/handler.h"
#include "vacation_rules.h"

namespace threadmill::handlers::autoreply {
namespace {

using exec::ConfigBool;
using exec::ConfigInt;
using exec::ConfigString;
using exec::ConfigStringList;
using exec::HostLastError;
using exec::HostLog;

constexpr int64_t kSecondsPerDay = 86400;

exec::HostTable g_host;

struct AutoreplyState {
  Template text;
  std::optional<Template> html;
  int64_t period_seconds = 7 * kSecondsPerDay;
  std::vector<std::string> addresses;  // lower-case, from config
  bool only_if_addressed = true;
};

// Reads `key` (inline text) or `key`_file (a path); neither → std::nullopt with *error "".
std::optional<std::string> TemplateSource(const nlohmann::json& config, const std::string& key,
                                          std::string* error) {
  auto inline_text = ConfigString(config, key.c_str(), "", error);
  auto file = ConfigString(config, (key + "_file").c_str(), "", error);
  if (!inline_text || !file) return std::nullopt;
  if (!inline_text->empty() && !file->empty()) {
    *error = key + " and " + key + "_file are both set; keep one";
    return std::nullopt;
  }
  if (!inline_text->empty()) return inline_text;
  if (file->empty()) return std::nullopt;
  std::ifstream in(*file, std::ios::binary);
  std::stringstream ss;
  if (!in || !(ss << in.rdbuf())) {
    *error = key + "_file: cannot read " + *file;
    return std::nullopt;
  }
  if (ss.str().empty()) {
    *error = key + "_file: " + *file + " is empty";
    return std::nullopt;
  }
  return ss.str();
}

bool LoadConfig(threadmill_ctx* ctx, const threadmill_host_api* host, const nlohmann::json& config,
                AutoreplyState* st, std::string* error) {
  auto text = TemplateSource(config, "template", error);
  if (!text) {
    if (error->empty()) *error = "template or template_file is required";
    return false;
  }
  auto parsed = Template::Parse(*text, error);
  if (!parsed) return false;
  st->text = std::move(*parsed);
  if (auto html = TemplateSource(config, "html_template", error)) {
    st->html = Template::Parse(*html, error);
    if (!st->html) return false;
  } else if (!error->empty()) {
    return false;
  }
  auto days = ConfigInt(config, "days", 7, 1, 365, error);
  auto addresses = ConfigStringList(config, "addresses", error);
  auto only = ConfigBool(config, "only_if_addressed", true, error);
  if (!days || !addresses || !only) return false;
  st->period_seconds = *days * kSecondsPerDay;
  for (const std::string& a : *addresses) st->addresses.push_back(Lower(a));
  st->only_if_addressed = *only;
  if (config.contains("subject")) {
    HostLog(ctx, host, THREADMILL_LOG_WARN,
            "autoreply: subject is ignored: threadmill sets the reply's subject (Re: ...)");
  }
  return true;
}

int Init(threadmill_ctx* ctx, const threadmill_host_api* host, const char* config_json,
         void** state) noexcept {
  try {
    if (!state || !g_host.Keep(host)) return THREADMILL_INVALID;
    std::string error;
    auto config = exec::ParseConfig(config_json, &error);
    auto st = std::make_unique<AutoreplyState>();
    if (!config || !LoadConfig(ctx, host, *config, st.get(), &error)) {
      HostLog(ctx, host, THREADMILL_LOG_ERROR, "autoreply: bad configuration: " + error);
      return THREADMILL_INVALID;
    }
    *state = st.release();
    return THREADMILL_OK;
  } catch (...) {
    return THREADMILL_INTERNAL;
  }
}

std::string Str(const char* s) { return s ? s : ""; }

std::map<std::string, std::string> Values(const threadmill_envelope& e) {
  std::string name = Str(e.sender_name);
  if (name.empty()) name = Str(e.from_address);
  if (name.empty()) name = Str(e.sender_address);
  return {{"sender", Str(e.sender_address)},
          {"sender_name", name},
          {"from", Str(e.from_address)},
          {"subject", Str(e.subject)},
          {"user", Str(e.user_id)}};
}

// The user's addresses: the configured ones plus the recipient this job is for.
std::vector<std::string> MyAddresses(const AutoreplyState& st, const threadmill_envelope& e) {
  std::vector<std::string> mine = st.addresses;
  std::string user = Lower(Str(e.user_id));
  if (user.find('@') != std::string::npos) mine.insert(mine.begin(), user);
  return mine;
}

// When the sender was last answered: a time, std::nullopt if never; false on store trouble.
bool LastAnswer(threadmill_ctx* ctx, const threadmill_host_api* host, const std::string& key,
                std::optional<int64_t>* last) {
  const void* value = nullptr;
  size_t len = 0;
  int rc = host->kv_get(ctx, key.c_str(), &value, &len);
  if (rc == THREADMILL_NOT_FOUND) return true;
  if (rc != THREADMILL_OK) return false;
  const char* p = static_cast<const char*>(value);
  int64_t t = 0;
  if (p && std::from_chars(p, p + len, t).ec == std::errc()) *last = t;
  return true;
}

int Answer(threadmill_ctx* ctx, const threadmill_host_api* host, const AutoreplyState& st,
           const threadmill_envelope& e) {
  std::string sender = Str(e.sender_address);
  std::string why = SilenceReason(e, MyAddresses(st, e), st.only_if_addressed);
  if (!why.empty()) {
    HostLog(ctx, host, THREADMILL_LOG_INFO, "no autoreply to <" + sender + ">: " + why);
    return THREADMILL_OK;
  }
  const int64_t now = e.received_time > 0 ? e.received_time : static_cast<int64_t>(time(nullptr));
  const std::string key = "sent:" + Lower(sender);
  std::optional<int64_t> last;
  if (!LastAnswer(ctx, host, key, &last)) {
    HostLog(ctx, host, THREADMILL_LOG_WARN, "autoreply: kv_get " + key + " failed, will retry");
    return THREADMILL_RETRY;
  }
  if (last && now - *last < st.period_seconds) {
    HostLog(ctx, host, THREADMILL_LOG_INFO,
            "no autoreply to <" + sender + ">: already answered at " + std::to_string(*last));
    return THREADMILL_OK;
  }
  auto values = Values(e);
  std::string text = st.text.Render(values, false);
  std::string html = st.html ? st.html->Render(values, true) : "";
  int rc = host->reply(ctx, Str(e.channel_message_id).c_str(), text.c_str(),
                       st.html ? html.c_str() : nullptr);
  switch (rc) {
    case THREADMILL_OK:
      break;
    case THREADMILL_REFUSED:
      HostLog(ctx, host, THREADMILL_LOG_INFO,
              "autoreply to <" + sender + "> refused: " + HostLastError(ctx, host));
      return THREADMILL_OK;
    case THREADMILL_INVALID:
    case THREADMILL_NOT_FOUND:
      HostLog(ctx, host, THREADMILL_LOG_ERROR,
              "autoreply to <" + sender + "> rejected: " + HostLastError(ctx, host));
      return THREADMILL_FAIL;
    default:
      HostLog(
          ctx, host, THREADMILL_LOG_WARN,
          "autoreply to <" + sender + "> failed (status " + std::to_string(rc) + "), will retry");
      return THREADMILL_RETRY;
  }
  HostLog(ctx, host, THREADMILL_LOG_INFO, "autoreply sent to <" + sender + ">");
  std::string stamp = std::to_string(now);
  if (host->kv_put(ctx, key.c_str(), stamp.data(), stamp.size()) != THREADMILL_OK) {
    // The reply is out; threadmill's per-message dedup stops a duplicate on retry, so the job
    // is done. The sender may get one more answer within the period.
    HostLog(ctx, host, THREADMILL_LOG_WARN, "autoreply: could not record " + key);
  }
  return THREADMILL_OK;
}

int OnInbound(threadmill_ctx* ctx, const threadmill_envelope* envelope) noexcept {
  const threadmill_host_api* host = g_host.Get();
  if (!host || !envelope) return THREADMILL_FAIL;
  try {
    const auto* st = static_cast<const AutoreplyState*>(host->state(ctx));
    if (!st) return THREADMILL_FAIL;
    return Answer(ctx, host, *st, *envelope);
  } catch (const std::bad_alloc&) {
    HostLog(ctx, host, THREADMILL_LOG_ERROR, "autoreply: out of memory, will retry");
    return THREADMILL_RETRY;
  } catch (...) {
    HostLog(ctx, host, THREADMILL_LOG_ERROR, "autoreply: internal error, will retry");
    return THREADMILL_RETRY;
  }
}

void Fini(void* state) noexcept { delete static_cast<AutoreplyState*>(state); }

const threadmill_handler kHandler = {
    sizeof(threadmill_handler),
    THREADMILL_ABI_MAJOR,
    THREADMILL_ABI_MINOR,
    "autoreply",
    Init,
    OnInbound,
    nullptr,
    Fini,
};

}  // namespace
}  // namespace threadmill::handlers::autoreply

extern "C" THREADMILL_EXPORT const threadmill_handler* threadmill_handler_v1(void) {
  return &threadmill::handlers::autoreply::kHandler;
}
