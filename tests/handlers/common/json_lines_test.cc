// json_lines_test.cc - handlers/common/json_lines: the JSON-lines codec of exec's session mode
// (line splitting with its cap, the lines threadmill writes, parsing the program's lines).
#include "handlers/common/json_lines.h"

#include <gtest/gtest.h>

#include "../host_double.h"

namespace threadmill::handlers::common {
namespace {

using nlohmann::json;

TEST(LineBuffer, SplitsLinesAcrossChunksAndSkipsBlankOnes) {
  LineBuffer b(100);
  std::string line;
  b.Append("{\"a\":1}\r\n\n   \n{\"b\"");
  ASSERT_EQ(b.Pop(&line), LineBuffer::Next::kLine);
  EXPECT_EQ(line, "{\"a\":1}");
  EXPECT_EQ(b.Pop(&line), LineBuffer::Next::kNone);
  b.Append(":2}\n");
  ASSERT_EQ(b.Pop(&line), LineBuffer::Next::kLine);
  EXPECT_EQ(line, "{\"b\":2}");
  EXPECT_EQ(b.Pop(&line), LineBuffer::Next::kNone);
  EXPECT_EQ(b.pending(), 0u);
}

TEST(LineBuffer, ALineOverTheCapIsReportedCompleteOrNot) {
  LineBuffer complete(8);
  std::string line;
  complete.Append("123456789\n");
  EXPECT_EQ(complete.Pop(&line), LineBuffer::Next::kTooLong);
  LineBuffer partial(8);
  partial.Append("123456789");
  EXPECT_EQ(partial.Pop(&line), LineBuffer::Next::kTooLong);
  LineBuffer exact(8);
  exact.Append("12345678\r\n");  // the CR LF does not count
  EXPECT_EQ(exact.Pop(&line), LineBuffer::Next::kLine);
}

TEST(JsonLines, ThreadmillLinesAreOneObjectEach) {
  test::EnvelopeData mail;
  mail.subject = "caf\xe9";  // not UTF-8: replaced, never thrown
  std::string in = InboundLine(7, mail.envelope());
  ASSERT_EQ(in.back(), '\n');
  EXPECT_EQ(in.find('\n'), in.size() - 1);
  json j = json::parse(in);
  EXPECT_EQ(j["type"], "inbound");
  EXPECT_EQ(j["id"], 7);
  EXPECT_EQ(j["envelope"]["channel_message_id"], "<m1@example.org>");
  EXPECT_EQ(j["envelope"]["subject"], "caf\xef\xbf\xbd");
  EXPECT_EQ(json::parse(HeartbeatLine(8)), json({{"type", "heartbeat"}, {"id", 8}}));
  json start = json::parse(StartLine({"kv_get", "send"}));
  EXPECT_EQ(start["type"], "start");
  EXPECT_EQ(start["protocol"], kBridgeProtocolVersion);
  EXPECT_EQ(start["calls"], json({"kv_get", "send"}));
}

TEST(JsonLines, AnswerLineEchoesReqFirst) {
  EXPECT_EQ(AnswerLine(3, {{"ok", true}, {"found", false}}),
            "{\"req\":3,\"found\":false,\"ok\":true}\n");
  EXPECT_EQ(AnswerLine("a", json::object()), "{\"req\":\"a\"}\n");
}

TEST(JsonLines, ParsesCallsAndDones) {
  ProgramLine c = ParseProgramLine(R"({"call":"kv_get","key":"k","req":4})");
  ASSERT_EQ(c.kind, ProgramLine::Kind::kCall) << c.error;
  EXPECT_EQ(c.call, "kv_get");
  EXPECT_EQ(c.req, 4);
  EXPECT_EQ(c.request["key"], "k");
  ProgramLine note = ParseProgramLine(R"({"call":"log","message":"hi"})");
  ASSERT_EQ(note.kind, ProgramLine::Kind::kCall);
  EXPECT_TRUE(note.req.is_null());  // no answer wanted
  const std::pair<const char*, ProgramLine::Status> dones[] = {
      {R"({"done":9})", ProgramLine::Status::kOk},
      {R"({"done":9,"status":"ok"})", ProgramLine::Status::kOk},
      {R"({"done":9,"status":"retry","reason":"api down"})", ProgramLine::Status::kRetry},
      {R"({"done":9,"status":"fail"})", ProgramLine::Status::kFail},
  };
  for (const auto& [text, status] : dones) {
    ProgramLine d = ParseProgramLine(text);
    ASSERT_EQ(d.kind, ProgramLine::Kind::kDone) << text << ": " << d.error;
    EXPECT_EQ(d.done, 9u) << text;
    EXPECT_EQ(d.status, status) << text;
  }
  EXPECT_EQ(ParseProgramLine(R"({"done":1,"status":"retry","reason":"api down"})").reason,
            "api down");
}

TEST(JsonLines, MalformedLinesAreInvalidWithAReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"hello", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {"{}", "neither"},
      {R"({"call":"x","done":1})", "both"},
      {R"({"done":-1})", "event id"},
      {R"({"done":"1"})", "event id"},
      {R"({"done":1,"status":"maybe"})", "unknown status"},
      {R"({"done":1,"status":7})", "not a string"},
      {R"({"call":""})", "non-empty string"},
      {R"({"call":5})", "non-empty string"},
      {R"({"call":"kv_get","req":[1]})", "\"req\""},
      {"{\"call\":\"log\",\"message\":\"\xff\"}", "not JSON"},  // invalid UTF-8
  };
  for (const auto& [text, why] : cases) {
    ProgramLine p = ParseProgramLine(text);
    EXPECT_EQ(p.kind, ProgramLine::Kind::kInvalid) << text;
    EXPECT_NE(p.error.find(why), std::string::npos) << text << ": " << p.error;
  }
}

}  // namespace
}  // namespace threadmill::handlers::common
