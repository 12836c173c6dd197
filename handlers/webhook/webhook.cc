// webhook.cc - the "webhook" handler: POSTs each inbound message's envelope as JSON to a
// configured URL; the response may carry a reply, a draft, nothing, or a list of "actions"
// (reply, draft, send, kv_put, kv_delete, log: the bridge's host calls, exec's answer format).
// Optionally POSTs each heartbeat to heartbeat_url, whose response may carry actions too.
//
// DESCRIPTION
//   [handler.NAME] config (any instance name): url, heartbeat_url, timeout_seconds,
//   connect_timeout_seconds, headers, secret or secret_file, max_response_bytes; see
//   handlers/webhook/README.md. The request carries Content-Type: application/json,
//   X-Threadmill-Event (inbound | heartbeat), X-Threadmill-Job / X-Threadmill-Attempt for an
//   inbound message (so a receiver can de-duplicate retries) and, with a secret,
//   X-Threadmill-Signature (signature.h). Each action's result is one log line.
//
// DIAGNOSTICS
//   2xx → done; a JSON body (Content-Type */json) is carried out as an answer (action.h), any
//   other body is ignored. 5xx, 408, 425, 429, time-outs and connection errors →
//   THREADMILL_RETRY (the runtime retries with backoff). Other 4xx, 3xx (redirects are not
//   followed), an invalid JSON answer or a response past max_response_bytes → THREADMILL_FAIL.
//   Each non-success is one log line with the URL, the status and the start of the body.
//
// LIMITS
//   Built on threadmill/handler.hpp (host table, exceptions caught at the ABI boundary); config
//   reading, log excerpts, the envelope JSON and the answer format come from handlers/common.
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/common/action.h"
#include "handlers/common/config.h"
#include "handlers/common/config_file.h"
#include "handlers/common/envelope_json.h"
#include "handlers/common/excerpt.h"
#include "handlers/common/http_post.h"
#include "signature.h"
#include "threadmill/handler.hpp"

namespace threadmill::handlers::webhook {
namespace {

using common::Excerpt;
using common::HttpClient;
using common::HttpResponse;

struct WebhookState {
  std::string url;
  std::vector<std::string> headers;  // configured "Name: value" lines
  std::string secret;
  long timeout_ms = 30000;
  long connect_timeout_ms = 10000;
  size_t max_response = 1 << 20;
  std::string heartbeat_url;  // "" = no heartbeat POST
  uint64_t heartbeats = 0;
  HttpClient client;
};

// "Name: value" with an HTTP token name and no line breaks.
bool ValidHeader(const std::string& line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string::npos) return false;
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return line.find_first_of("\r\n") == std::string::npos;
}

bool ReadSecretFile(const std::string& path, std::string* secret, std::string* error) {
  auto contents = common::ReadConfigFile("secret_file", path, error);
  if (!contents) return false;
  *secret = std::move(*contents);
  while (!secret->empty() && (secret->back() == '\n' || secret->back() == '\r')) {
    secret->pop_back();
  }
  if (secret->empty()) {
    *error = "secret_file: " + path + " is empty";
    return false;
  }
  return true;
}

bool LoadConfig(const nlohmann::json& config, WebhookState* st, std::string* error) {
  auto url = common::ConfigString(config, "url", "", error);
  if (!url) return false;
  if (url->empty()) {
    *error = "url is required";
    return false;
  }
  if (!common::ValidHttpUrl("url", *url, error)) return false;
  auto heartbeat_url = common::ConfigString(config, "heartbeat_url", "", error);
  if (!heartbeat_url) return false;
  if (!heartbeat_url->empty() && !common::ValidHttpUrl("heartbeat_url", *heartbeat_url, error)) {
    return false;
  }
  st->heartbeat_url = *heartbeat_url;
  auto timeout = common::ConfigInt(config, "timeout_seconds", 30, 1, 600, error);
  auto connect = common::ConfigInt(config, "connect_timeout_seconds", 10, 1, 600, error);
  auto max_response = common::ConfigInt(config, "max_response_bytes", 1 << 20, 1, 64 << 20, error);
  auto headers = common::ConfigStringList(config, "headers", error);
  auto secret = common::ConfigString(config, "secret", "", error);
  auto secret_file = common::ConfigString(config, "secret_file", "", error);
  if (!timeout || !connect || !max_response || !headers || !secret || !secret_file) {
    return false;
  }
  for (const std::string& h : *headers) {
    if (!ValidHeader(h)) {
      *error = "headers: \"" + Excerpt(h, 80) + "\" is not a \"Name: value\" line";
      return false;
    }
  }
  if (!secret->empty() && !secret_file->empty()) {
    *error = "secret and secret_file are both set; keep one";
    return false;
  }
  st->secret = *secret;
  if (!secret_file->empty() && !ReadSecretFile(*secret_file, &st->secret, error)) return false;
  st->url = *url;
  st->timeout_ms = static_cast<long>(*timeout * 1000);
  st->connect_timeout_ms = static_cast<long>(*connect * 1000);
  st->max_response = static_cast<size_t>(*max_response);
  st->headers = std::move(*headers);
  return true;
}

// The headers of every request; job_id/attempt only for an inbound message.
std::vector<std::string> RequestHeaders(const WebhookState& st, const char* event,
                                        const threadmill_envelope* e, const std::string& body) {
  std::vector<std::string> h = {"Content-Type: application/json", "Accept: application/json",
                                "User-Agent: threadmill-webhook/1",
                                "Expect:"};  // no 100-continue round trip
  h.push_back(std::string("X-Threadmill-Event: ") + event);
  if (e) {
    h.push_back(std::string("X-Threadmill-Job: ") + (e->job_id ? e->job_id : ""));
    h.push_back("X-Threadmill-Attempt: " + std::to_string(e->attempt));
  }
  if (!st.secret.empty()) h.push_back("X-Threadmill-Signature: " + Signature(st.secret, body));
  h.insert(h.end(), st.headers.begin(), st.headers.end());
  return h;
}

bool IsJson(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  for (char& c : t) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return t.size() >= 4 && t.compare(t.size() - 4, 4, "json") == 0;
}

// POSTs `body` to `url` and carries out the answer; e is nullptr for a heartbeat.
int Post(Context& ctx, WebhookState& st, const std::string& url, const char* event,
         const threadmill_envelope* e, const std::string& body) {
  HttpResponse r = st.client.Post(url, RequestHeaders(st, event, e, body), body, st.timeout_ms,
                                  st.connect_timeout_ms, st.max_response);
  const std::string who = "webhook " + url;
  if (r.too_large) {
    ctx.log(THREADMILL_LOG_ERROR, who + ": response larger than max_response_bytes (" +
                                      std::to_string(st.max_response) + ")");
    return THREADMILL_FAIL;
  }
  if (r.curl != CURLE_OK) {
    ctx.log(THREADMILL_LOG_WARN, who + ": " + r.curl_error + ", will retry");
    return THREADMILL_RETRY;
  }
  const std::string status = std::to_string(r.status);
  if (r.status >= 500 || r.status == 408 || r.status == 425 || r.status == 429) {
    ctx.log(THREADMILL_LOG_WARN, who + " answered " + status + ", will retry: " + Excerpt(r.body));
    return THREADMILL_RETRY;
  }
  if (r.status < 200 || r.status >= 300) {
    ctx.log(THREADMILL_LOG_ERROR, who + " answered " + status +
                                      (r.status < 400 ? " (redirects are not followed)" : "") +
                                      ", giving up: " + Excerpt(r.body));
    return THREADMILL_FAIL;
  }
  if (!IsJson(r.content_type)) {
    ctx.log(THREADMILL_LOG_DEBUG, who + " answered " + status + " without JSON");
    return THREADMILL_OK;
  }
  common::ParsedAction parsed = common::ParseAction(r.body);
  if (!parsed.ok) {
    ctx.log(THREADMILL_LOG_ERROR,
            who + ": invalid answer (" + parsed.error + "): " + Excerpt(r.body));
    return THREADMILL_FAIL;
  }
  return common::ApplyAction(ctx, e, parsed.action, who);
}

int Deliver(Context& ctx, WebhookState& st, const threadmill_envelope& e) {
  return Post(ctx, st, st.url, "inbound", &e, common::EnvelopeToJsonText(e));
}

// {"type":"heartbeat","id":N,"time":unix seconds} to heartbeat_url, when configured.
int Heartbeat(Context& ctx, WebhookState& st) {
  if (st.heartbeat_url.empty()) return THREADMILL_OK;
  nlohmann::json body = {{"type", "heartbeat"},
                         {"id", ++st.heartbeats},
                         {"time", static_cast<int64_t>(std::time(nullptr))}};
  return Post(ctx, st, st.heartbeat_url, "heartbeat", nullptr, body.dump());
}

class Webhook {
 public:
  Webhook(Context&, std::string_view config_json) {
    if (!curl_.ok()) throw HandlerError(THREADMILL_INTERNAL, "libcurl initialisation failed");
    st_ = std::make_unique<WebhookState>();
    std::string error;
    auto config = common::ParseConfig(config_json, &error);
    if (!config || !LoadConfig(*config, st_.get(), &error) || !st_->client.ok()) {
      if (error.empty()) error = "cannot create a curl handle";
      throw HandlerError(THREADMILL_INVALID, "bad configuration: " + error);
    }
  }
  int on_inbound(Context& ctx, const threadmill_envelope& envelope) {
    return Deliver(ctx, *st_, envelope);
  }
  int on_heartbeat(Context& ctx) { return Heartbeat(ctx, *st_); }

 private:
  common::CurlGlobal curl_;  // first member: initialised before, cleaned up after the curl handle
  std::unique_ptr<WebhookState> st_;
};

}  // namespace
}  // namespace threadmill::handlers::webhook

THREADMILL_CPP_HANDLER(threadmill::handlers::webhook::Webhook, "webhook")
