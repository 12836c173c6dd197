// chat_response.cc - see chat_response.h.
#include "chat_response.h"

#include <nlohmann/json.hpp>

#include "chat_request.h"
#include "handlers/common/excerpt.h"

namespace threadmill::handlers::llm {
namespace {

using common::Excerpt;
using nlohmann::json;

ChatAnswer Fail(Outcome outcome, std::string reason) {
  ChatAnswer a;
  a.outcome = outcome;
  a.reason = std::move(reason);
  return a;
}

std::string Trim(const std::string& s) {
  const char* space = " \t\r\n";
  size_t b = s.find_first_not_of(space);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

// The endpoint's own words: {"error": {"message": ...}} or {"error": "..."}, else the body.
std::string ErrorText(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_string()) return Excerpt(e.get<std::string>());
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      return Excerpt(e["message"].get<std::string>());
    }
  }
  return Excerpt(body);
}

}  // namespace

ChatAnswer ParseChatBody(const std::string& body, size_t max_answer_bytes) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(Outcome::kFail, "answer is not a JSON object: " + Excerpt(body));
  }
  if (j.contains("error") && !j.contains("choices")) {
    return Fail(Outcome::kFail, "answer is an error: " + ErrorText(body));
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty()) {
    return Fail(Outcome::kFail, "answer has no choices: " + Excerpt(body));
  }
  const json& first = (*choices)[0];
  if (!first.is_object() || !first.contains("message") || !first["message"].is_object()) {
    return Fail(Outcome::kFail, "choices[0] has no message: " + Excerpt(body));
  }
  const json& message = first["message"];
  auto content = message.find("content");
  std::string text;
  if (content != message.end() && content->is_string()) text = Trim(content->get<std::string>());
  if (text.empty()) {
    return Fail(Outcome::kFail,
                "choices[0].message.content is empty or not a string: " + Excerpt(body));
  }
  ChatAnswer a;
  a.outcome = Outcome::kAnswer;
  if (first.contains("finish_reason") && first["finish_reason"].is_string()) {
    a.finish_reason = first["finish_reason"].get<std::string>();
  }
  if (text.size() > max_answer_bytes) {
    a.cut = true;
    a.reason = "answer of " + std::to_string(text.size()) + " bytes cut to max_answer_bytes (" +
               std::to_string(max_answer_bytes) + ")";
    text = Utf8Prefix(text, max_answer_bytes);
  } else if (a.finish_reason == "length") {
    a.reason = "the model stopped at its token limit (finish_reason=length)";
  }
  a.text = std::move(text);
  return a;
}

ChatAnswer ClassifyResponse(const common::HttpResponse& r, size_t max_response_bytes,
                            size_t max_answer_bytes) {
  if (r.too_large) {
    return Fail(Outcome::kFail, "response larger than max_response_bytes (" +
                                    std::to_string(max_response_bytes) + ")");
  }
  if (r.curl != CURLE_OK) return Fail(Outcome::kRetry, r.curl_error);
  const std::string status = "HTTP " + std::to_string(r.status);
  if (r.status >= 500 || r.status == 408 || r.status == 425 || r.status == 429) {
    return Fail(Outcome::kRetry, status + ": " + ErrorText(r.body));
  }
  if (r.status < 200 || r.status >= 300) {
    return Fail(Outcome::kFail,
                status +
                    (r.status >= 300 && r.status < 400 ? " (redirects are not followed)" : "") +
                    ": " + ErrorText(r.body));
  }
  return ParseChatBody(r.body, max_answer_bytes);
}

}  // namespace threadmill::handlers::llm
