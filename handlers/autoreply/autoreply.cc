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
//   Built on threadmill/handler.hpp (host table, exceptions caught at the ABI boundary) and
//   handlers/common (config reading).
#include <charconv>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/common/config.h"
#include "handlers/common/config_file.h"
#include "template.h"
#include "threadmill/handler.hpp"
#include "vacation_rules.h"

namespace threadmill::handlers::autoreply {
namespace {

using common::ConfigBool;
using common::ConfigInt;
using common::ConfigString;
using common::ConfigStringList;

constexpr int64_t kSecondsPerDay = 86400;

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
  auto contents = common::ReadConfigFile(key + "_file", *file, error);
  if (contents && contents->empty()) {
    *error = key + "_file: " + *file + " is empty";
    return std::nullopt;
  }
  return contents;
}

bool LoadConfig(Context& ctx, const nlohmann::json& config, AutoreplyState* st,
                std::string* error) {
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
    ctx.log(THREADMILL_LOG_WARN,
            "autoreply: subject is ignored: threadmill sets the reply's subject (Re: ...)");
  }
  return true;
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

// When the sender was last answered: a time, std::nullopt if never (or unreadable); a failed
// result on store trouble.
HostResult<std::optional<int64_t>> LastAnswer(Context& ctx, const std::string& key) {
  auto stored = ctx.kv_get(key);
  if (!stored) return stored.status();
  std::optional<int64_t> last;
  if (const std::optional<std::string>& v = *stored) {
    int64_t t = 0;
    if (std::from_chars(v->data(), v->data() + v->size(), t).ec == std::errc()) last = t;
  }
  return last;
}

int Answer(Context& ctx, const AutoreplyState& st, const threadmill_envelope& e) {
  std::string sender = Str(e.sender_address);
  std::string why = SilenceReason(e, MyAddresses(st, e), st.only_if_addressed);
  if (!why.empty()) {
    ctx.log(THREADMILL_LOG_INFO, "no autoreply to <" + sender + ">: " + why);
    return THREADMILL_OK;
  }
  const int64_t now = e.received_time > 0 ? e.received_time : static_cast<int64_t>(time(nullptr));
  const std::string key = "sent:" + Lower(sender);
  auto stored = LastAnswer(ctx, key);
  if (!stored) {
    ctx.log(THREADMILL_LOG_WARN, "autoreply: kv_get " + key + " failed (" +
                                     stored.status().describe() + "), will retry");
    return THREADMILL_RETRY;
  }
  const std::optional<int64_t>& last = *stored;
  if (last && now - *last < st.period_seconds) {
    ctx.log(THREADMILL_LOG_INFO,
            "no autoreply to <" + sender + ">: already answered at " + std::to_string(*last));
    return THREADMILL_OK;
  }
  auto values = Values(e);
  std::string text = st.text.Render(values, false);
  std::string html = st.html ? st.html->Render(values, true) : "";
  HostStatus sent = ctx.reply(Str(e.channel_message_id).c_str(), text, html);
  switch (sent.code) {
    case THREADMILL_OK:
      break;
    case THREADMILL_REFUSED:
      ctx.log(THREADMILL_LOG_INFO, "autoreply to <" + sender + "> refused: " + sent.reason);
      return THREADMILL_OK;
    case THREADMILL_INVALID:
    case THREADMILL_NOT_FOUND:
      ctx.log(THREADMILL_LOG_ERROR, "autoreply to <" + sender + "> rejected: " + sent.reason);
      return THREADMILL_FAIL;
    default:
      ctx.log(THREADMILL_LOG_WARN, "autoreply to <" + sender + "> failed (status " +
                                       std::to_string(sent.code) + "), will retry");
      return THREADMILL_RETRY;
  }
  ctx.log(THREADMILL_LOG_INFO, "autoreply sent to <" + sender + ">");
  std::string stamp = std::to_string(now);
  if (HostStatus put = ctx.kv_put(key, stamp); !put) {
    // The reply is out; threadmill's per-message dedup stops a duplicate on retry, so the job
    // is done. The sender may get one more answer within the period.
    ctx.log(THREADMILL_LOG_WARN, "autoreply: could not record " + key + ": " + put.describe());
  }
  return THREADMILL_OK;
}

class Autoreply {
 public:
  Autoreply(Context& ctx, std::string_view config_json) {
    std::string error;
    auto config = common::ParseConfig(config_json, &error);
    if (!config || !LoadConfig(ctx, *config, &st_, &error)) {
      throw HandlerError(THREADMILL_INVALID, "autoreply: bad configuration: " + error);
    }
  }
  int on_inbound(Context& ctx, const threadmill_envelope& envelope) {
    return Answer(ctx, st_, envelope);
  }

 private:
  AutoreplyState st_;
};

}  // namespace
}  // namespace threadmill::handlers::autoreply

THREADMILL_CPP_HANDLER(threadmill::handlers::autoreply::Autoreply, "autoreply")
