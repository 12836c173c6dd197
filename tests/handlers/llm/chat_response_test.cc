// chat_response_test.cc - what an endpoint's answer becomes (handlers/llm/chat_response.h):
// the answer text, retry (429, 5xx, time-outs) or park (other 4xx, malformed JSON, no choices).
#include "handlers/llm/chat_response.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::handlers::llm {
namespace {

common::HttpResponse Http(long status, std::string body) {
  common::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

const char kGood[] =
    R"({"id":"c1","object":"chat.completion","choices":[{"index":0,"message":)"
    R"({"role":"assistant","content":"  Hello there.\n"},"finish_reason":"stop"}]})";

TEST(ChatResponse, Classification) {
  struct Case {
    const char* name;
    common::HttpResponse response;
    Outcome want;
    std::string reason_has;
  };
  common::HttpResponse timeout;
  timeout.curl = CURLE_OPERATION_TIMEDOUT;
  timeout.curl_error = "Operation timed out after 1000 milliseconds";
  common::HttpResponse refused;
  refused.curl = CURLE_COULDNT_CONNECT;
  refused.curl_error = "Failed to connect";
  common::HttpResponse huge = Http(200, "");
  huge.too_large = true;
  huge.curl = CURLE_WRITE_ERROR;
  const std::vector<Case> cases = {
      {"200 answer", Http(200, kGood), Outcome::kAnswer, ""},
      {"time-out", timeout, Outcome::kRetry, "timed out"},
      {"connection refused", refused, Outcome::kRetry, "Failed to connect"},
      {"429", Http(429, R"({"error":{"message":"rate limited"}})"), Outcome::kRetry,
       "HTTP 429: rate limited"},
      {"500", Http(500, "boom"), Outcome::kRetry, "HTTP 500: boom"},
      {"503 string error", Http(503, R"({"error":"loading model"})"), Outcome::kRetry,
       "HTTP 503: loading model"},
      {"408", Http(408, ""), Outcome::kRetry, "HTTP 408"},
      {"400", Http(400, R"({"error":{"message":"bad model","type":"invalid_request_error"}})"),
       Outcome::kFail, "HTTP 400: bad model"},
      {"401", Http(401, "no key"), Outcome::kFail, "HTTP 401: no key"},
      {"404", Http(404, "not found"), Outcome::kFail, "HTTP 404"},
      {"302", Http(302, ""), Outcome::kFail, "redirects are not followed"},
      {"too large", huge, Outcome::kFail, "max_response_bytes (1024)"},
      {"not JSON", Http(200, "<html>"), Outcome::kFail, "not a JSON object"},
      {"JSON array", Http(200, "[]"), Outcome::kFail, "not a JSON object"},
      {"empty choices", Http(200, R"({"choices":[]})"), Outcome::kFail, "no choices"},
      {"no choices", Http(200, R"({"id":"x"})"), Outcome::kFail, "no choices"},
      {"error in 200", Http(200, R"({"error":{"message":"context too long"}})"), Outcome::kFail,
       "context too long"},
      {"no message", Http(200, R"({"choices":[{"text":"hi"}]})"), Outcome::kFail, "no message"},
      {"null content",
       Http(200, R"({"choices":[{"message":{"role":"assistant","content":null}}]})"),
       Outcome::kFail, "empty"},
      {"blank content",
       Http(200, R"({"choices":[{"message":{"role":"assistant","content":" \n "}}]})"),
       Outcome::kFail, "empty"},
  };
  for (const Case& c : cases) {
    ChatAnswer a = ClassifyResponse(c.response, 1024, 1000);
    EXPECT_EQ(a.outcome, c.want) << c.name << ": " << a.reason;
    EXPECT_NE(a.reason.find(c.reason_has), std::string::npos) << c.name << ": " << a.reason;
  }
}

TEST(ChatResponse, AnswerIsTrimmed) {
  ChatAnswer a = ClassifyResponse(Http(200, kGood), 1 << 20, 1000);
  ASSERT_EQ(a.outcome, Outcome::kAnswer);
  EXPECT_EQ(a.text, "Hello there.");
  EXPECT_EQ(a.finish_reason, "stop");
  EXPECT_FALSE(a.cut);
  EXPECT_EQ(a.reason, "");
}

TEST(ChatResponse, LongAnswerIsCutAtUtf8Boundary) {
  std::string content = "ab\xE2\x82\xAC" + std::string(100, 'x');  // € at bytes 2..4
  std::string body = R"({"choices":[{"message":{"content":")" + content + R"("}}]})";
  ChatAnswer a = ParseChatBody(body, 4);
  ASSERT_EQ(a.outcome, Outcome::kAnswer);
  EXPECT_TRUE(a.cut);
  EXPECT_EQ(a.text, "ab");
  EXPECT_NE(a.reason.find("max_answer_bytes (4)"), std::string::npos) << a.reason;
}

TEST(ChatResponse, TokenLimitIsNoted) {
  ChatAnswer a = ParseChatBody(
      R"({"choices":[{"message":{"content":"Partial"},"finish_reason":"length"}]})", 1000);
  ASSERT_EQ(a.outcome, Outcome::kAnswer);
  EXPECT_EQ(a.text, "Partial");
  EXPECT_NE(a.reason.find("finish_reason=length"), std::string::npos);
}

}  // namespace
}  // namespace threadmill::handlers::llm
