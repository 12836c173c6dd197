// llm.cc - the "llm" handler: answers each message routed to it (or answering a thread it
// owns) in-thread with a model behind an OpenAI-compatible /v1/chat/completions endpoint
// (llama.cpp's llama-server, Ollama, vLLM, a hosted API).
//
// DESCRIPTION
//   For one inbound message: when the envelope says a reply would be refused
//   (THREADMILL_ENV_NO_REPLY / no_reply_reason) the model is not called. Otherwise the thread's
//   earlier turns (conversation.h), the stripped reply text as the new user turn and the system
//   prompt make the request (chat_request.h); the answer (chat_response.h) is stored as the
//   thread's next two turns and then drafted (default; threadmillctl drafts approve) or sent
//   (auto_send = true). A job retried after the model answered re-sends the stored answer.
//
// DIAGNOSTICS
//   One log line per outcome. Time-outs, connection errors, HTTP 408/425/429/5xx →
//   THREADMILL_RETRY while attempt <= max_retries, then THREADMILL_FAIL; other HTTP errors,
//   malformed JSON, no choices, an empty answer → THREADMILL_FAIL (parked). A reply or draft the
//   host refuses is logged with its reason and its turns are not kept. The API key is never
//   logged.
//
// LIMITS
//   Built on threadmill/handler.hpp; config reading and the libcurl client from handlers/common.
//   One request at a time per worker; no streaming.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat_request.h"
#include "chat_response.h"
#include "conversation.h"
#include "handlers/common/config.h"
#include "handlers/common/excerpt.h"
#include "handlers/common/http_post.h"
#include "llm_config.h"
#include "threadmill/handler.hpp"

namespace threadmill::handlers::llm {
namespace {

std::string Str(const char* s) { return s ? s : ""; }

std::vector<std::string> RequestHeaders(const LlmConfig& config) {
  std::vector<std::string> h = {"Content-Type: application/json", "Accept: application/json",
                                "User-Agent: threadmill-llm/1", "Expect:"};
  if (!config.api_key.empty()) h.push_back("Authorization: Bearer " + config.api_key);
  return h;
}

class Llm {
 public:
  Llm(Context&, std::string_view config_json) {
    if (!curl_.ok()) throw HandlerError(THREADMILL_INTERNAL, "llm: libcurl initialisation failed");
    std::string error;
    auto config = common::ParseConfig(config_json, &error);
    if (!config || !LoadLlmConfig(*config, &config_, &error)) {
      throw HandlerError(THREADMILL_INVALID, "llm: bad configuration: " + error);
    }
    client_ = std::make_unique<common::HttpClient>();
    if (!client_->ok()) throw HandlerError(THREADMILL_INTERNAL, "llm: cannot create a curl handle");
  }

  int on_inbound(Context& ctx, const threadmill_envelope& e) {
    const std::string msgid = Str(e.channel_message_id);
    if ((e.flags & THREADMILL_ENV_NO_REPLY) || Str(e.no_reply_reason) != "") {
      ctx.log(THREADMILL_LOG_INFO, "not asking the model about " + msgid +
                                       ": a reply would be refused (" + Str(e.no_reply_reason) +
                                       ")");
      return THREADMILL_OK;
    }
    std::string user = Str(e.reply_text);
    if (user.empty()) user = Str(e.message_text);
    if (user.empty()) {
      ctx.log(THREADMILL_LOG_INFO, "not asking the model about " + msgid + ": no text");
      return THREADMILL_OK;
    }
    std::string thread = Str(e.channel_thread_id);
    if (thread.empty()) thread = "message:" + msgid;
    Conversation conv(ctx, thread);
    std::vector<std::string> skipped;
    const size_t window = 2 * config_.max_history_turns;
    if (HostStatus st = conv.Load(window < 2 ? 2 : window, &skipped); !st) {
      ctx.log(THREADMILL_LOG_WARN,
              "cannot read thread " + thread + "'s turns: " + st.describe() + ", will retry");
      return THREADMILL_RETRY;
    }
    for (const std::string& s : skipped) ctx.log(THREADMILL_LOG_WARN, "turn record skipped: " + s);
    std::string answer;
    if (auto stored = conv.AnswerFor(msgid)) {
      answer = *stored;  // a retry after the model answered: the same answer again
      ctx.log(THREADMILL_LOG_INFO, "re-sending the stored answer to " + msgid);
    } else {
      int rc = Ask(ctx, e, conv.History(window), user, &answer);
      if (rc != THREADMILL_OK) return rc;
      if (HostStatus st = conv.Append(user, answer, msgid); !st) {
        ctx.log(THREADMILL_LOG_WARN,
                "cannot store thread " + thread + "'s turns: " + st.describe() + ", will retry");
        return THREADMILL_RETRY;
      }
    }
    return Deliver(ctx, e, conv, answer);
  }

 private:
  // Asks the model; THREADMILL_OK with *answer, or the job's end (RETRY or FAIL), logged.
  int Ask(Context& ctx, const threadmill_envelope& e, const std::vector<ChatMessage>& history,
          const std::string& user, std::string* answer) {
    ChatRequest req = BuildChatRequest(config_, history, user);
    if (!req.ok) {
      ctx.log(THREADMILL_LOG_ERROR, "cannot build a request: " + req.error);
      return THREADMILL_FAIL;
    }
    if (req.dropped_messages > 0 || req.cut_user_bytes > 0) {
      ctx.log(THREADMILL_LOG_WARN,
              "request cut to max_prompt_bytes (" + std::to_string(config_.max_prompt_bytes) +
                  "): " + std::to_string(req.dropped_messages) + " earlier messages left out, " +
                  std::to_string(req.cut_user_bytes) + " bytes cut from the new message");
    }
    common::HttpResponse r =
        client_->Post(config_.endpoint, RequestHeaders(config_), req.body, config_.timeout_ms,
                      config_.connect_timeout_ms, config_.max_response_bytes);
    ChatAnswer a = ClassifyResponse(r, config_.max_response_bytes, config_.max_answer_bytes);
    const std::string who = "endpoint " + config_.endpoint;
    if (a.outcome == Outcome::kRetry) {
      if (static_cast<int64_t>(e.attempt) <= config_.max_retries) {
        ctx.log(THREADMILL_LOG_WARN,
                who + ": " + a.reason + ", will retry (attempt " + std::to_string(e.attempt) + ")");
        return THREADMILL_RETRY;
      }
      ctx.log(THREADMILL_LOG_ERROR, who + ": " + a.reason + ", giving up after " +
                                        std::to_string(e.attempt) + " attempts (max_retries " +
                                        std::to_string(config_.max_retries) + ")");
      return THREADMILL_FAIL;
    }
    if (a.outcome == Outcome::kFail) {
      ctx.log(THREADMILL_LOG_ERROR, who + ": " + a.reason + ", giving up (job parked)");
      return THREADMILL_FAIL;
    }
    if (!a.reason.empty()) ctx.log(THREADMILL_LOG_WARN, who + ": " + a.reason);
    *answer = std::move(a.text);
    return THREADMILL_OK;
  }

  int Deliver(Context& ctx, const threadmill_envelope& e, Conversation& conv,
              const std::string& answer) {
    const char* msgid = e.channel_message_id;
    const char* how = config_.auto_send ? "reply" : "draft";
    HostStatus st;
    std::string draft_id;
    if (config_.auto_send) {
      st = ctx.reply(msgid, answer);
    } else {
      auto d = ctx.draft(msgid, answer);
      st = d.status();
      if (d) draft_id = *d;
    }
    if (st) {
      ctx.log(THREADMILL_LOG_INFO, std::string("answered ") + Str(msgid) + " (" + how +
                                       (draft_id.empty() ? "" : " " + draft_id) + ", " +
                                       std::to_string(answer.size()) + " bytes)");
      return THREADMILL_OK;
    }
    if (st.code == THREADMILL_STORE) {
      ctx.log(THREADMILL_LOG_WARN,
              std::string(how) + " failed: " + st.describe() + ", will retry with the same answer");
      return THREADMILL_RETRY;
    }
    HostStatus undo = conv.Rollback();
    ctx.log(st.refused() ? THREADMILL_LOG_INFO : THREADMILL_LOG_ERROR,
            std::string(how) + " refused: " + st.describe() + "; the turns are not kept" +
                (undo ? "" : " (rollback failed: " + undo.describe() + ")"));
    return st.refused() ? THREADMILL_OK : THREADMILL_FAIL;
  }

  common::CurlGlobal curl_;  // first member: initialised before, cleaned up after the client
  LlmConfig config_;
  std::unique_ptr<common::HttpClient> client_;
};

}  // namespace
}  // namespace threadmill::handlers::llm

THREADMILL_CPP_HANDLER(threadmill::handlers::llm::Llm, "llm")
