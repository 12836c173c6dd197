// bridge_calls_test.cc - handlers/common/bridge_calls: each host call of the bridge protocol,
// driven through handler.hpp's Context over the host test double (host_double.h): arguments
// checked, the host called, results and failures shaped as the protocol says.
#include "handlers/common/bridge_calls.h"

#include <gtest/gtest.h>

#include "../host_double.h"
#include "handlers/common/action.h"

namespace threadmill::handlers::common {
namespace {

using nlohmann::json;

class BridgeCalls : public ::testing::Test {
 protected:
  json Call(const json& request, bool heartbeat = false) {
    Context ctx(&host_.ctx, &host_.api);
    CallScope scope{ctx, heartbeat ? nullptr : &mail_.envelope()};
    return AnswerJson(RunCall(scope, request));
  }
  test::HostDouble host_;
  test::EnvelopeData mail_;
};

TEST_F(BridgeCalls, KvRoundTripWithTextAndBytes) {
  EXPECT_EQ(Call({{"call", "kv_put"}, {"key", "a"}, {"value", "text"}}), json({{"ok", true}}));
  EXPECT_EQ(Call({{"call", "kv_put"}, {"key", "obj"}, {"value", {{"n", 1}}}}),
            json({{"ok", true}}));
  EXPECT_EQ(Call({{"call", "kv_put"}, {"key", "bin"}, {"value_base64", "AP/+"}}),
            json({{"ok", true}}));
  EXPECT_EQ(host_.kv["obj"], "{\"n\":1}");
  EXPECT_EQ(host_.kv["bin"], std::string("\x00\xff\xfe", 3));
  EXPECT_EQ(Call({{"call", "kv_get"}, {"key", "a"}}),
            json({{"ok", true}, {"found", true}, {"value", "text"}}));
  EXPECT_EQ(Call({{"call", "kv_get"}, {"key", "bin"}}),
            json({{"ok", true}, {"found", true}, {"value_base64", "AP/+"}}));
  EXPECT_EQ(Call({{"call", "kv_get"}, {"key", "none"}}), json({{"ok", true}, {"found", false}}));
  EXPECT_EQ(Call({{"call", "kv_delete"}, {"key", "a"}}), json({{"ok", true}, {"deleted", true}}));
  EXPECT_EQ(Call({{"call", "kv_delete"}, {"key", "a"}}), json({{"ok", true}, {"deleted", false}}));
}

TEST_F(BridgeCalls, KvListPagesWithStartAfter) {
  for (const char* k : {"t:1", "t:2", "t:3", "t:4", "u:1"}) host_.kv[k] = std::string("v") + k;
  json first = Call({{"call", "kv_list"}, {"prefix", "t:"}, {"limit", 3}});
  EXPECT_EQ(first, json({{"ok", true},
                         {"items", {{{"key", "t:1"}}, {{"key", "t:2"}}, {{"key", "t:3"}}}},
                         {"more", true},
                         {"next", "t:3"}}));
  json rest = Call({{"call", "kv_list"},
                    {"prefix", "t:"},
                    {"start_after", "t:3"},
                    {"limit", 3},
                    {"include_values", true}});
  EXPECT_EQ(
      rest,
      json({{"ok", true}, {"items", {{{"key", "t:4"}, {"value", "vt:4"}}}}, {"more", false}}));
  EXPECT_EQ(Call({{"call", "kv_list"}})["items"].size(), 5u);  // default: every key, limit 100
}

TEST_F(BridgeCalls, KvListSaysWhenTheHostsListWasCutShort) {
  for (int i = 0; i < 10001; ++i) host_.kv["k:" + std::to_string(100000 + i)] = "";
  json last = Call({{"call", "kv_list"}, {"prefix", "k:"}, {"start_after", "k:109990"}});
  EXPECT_EQ(last["items"].size(), 9u);  // k:109991 .. k:109999, the host's 10,000th key
  EXPECT_EQ(last["more"], false);
  EXPECT_EQ(last["incomplete"], true);
  EXPECT_FALSE(Call({{"call", "kv_list"}, {"prefix", "k:10000"}}).contains("incomplete"));
}

TEST_F(BridgeCalls, SendReplyDraftGoThroughTheHost) {
  host_.accept_sends = true;
  EXPECT_EQ(Call({{"call", "send"}, {"to", "x@example.org"}, {"subject", "S"}, {"text", "T"}},
                 /*heartbeat=*/true),
            json({{"ok", true}, {"thread_id", "thread-1"}}));
  ASSERT_EQ(host_.sends.size(), 1u);
  EXPECT_EQ(host_.sends[0].to, std::vector<std::string>{"x@example.org"});
  EXPECT_EQ(Call({{"call", "reply"}, {"text", "Hi"}, {"html", "<p>Hi</p>"}}), json({{"ok", true}}));
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].message_id, "<m1@example.org>");  // the current message
  EXPECT_EQ(host_.replies[0].html, "<p>Hi</p>");
  EXPECT_EQ(Call({{"call", "draft"}, {"text", "Maybe"}}),
            json({{"ok", true}, {"draft_id", "draft-1"}}));
  // No current message in a heartbeat.
  EXPECT_EQ(Call({{"call", "reply"}, {"text", "Hi"}}, true)["error"], "no-current-message");
}

TEST_F(BridgeCalls, HostFailuresKeepTheirStatusAndReason) {
  host_.RefuseReplies(THREADMILL_REFUSED, "dmarc");
  EXPECT_EQ(Call({{"call", "reply"}, {"text", "Hi"}}),
            json({{"ok", false}, {"status", "refused"}, {"error", "dmarc"}}));
  host_.kv_status = THREADMILL_STORE;
  EXPECT_EQ(Call({{"call", "kv_get"}, {"key", "a"}})["status"], "store");
  host_.last_error = "rate-send";  // the double's send refuses (accept_sends is false)
  EXPECT_EQ(Call({{"call", "send"}, {"to", {"x@e.org"}}, {"subject", "S"}, {"text", "T"}}),
            json({{"ok", false}, {"status", "refused"}, {"error", "rate-send"}}));
}

TEST_F(BridgeCalls, AttachmentRawMessageConfigAndLog) {
  host_.attachments["f-1"] = "PDF\x01";
  host_.raw = "Subject: x\r\n\r\nbody";
  host_.config["greeting"] = "Howdy";
  EXPECT_EQ(Call({{"call", "attachment"}, {"file_id", "f-1"}}),
            json({{"ok", true}, {"data_base64", "UERGAQ=="}, {"size", 4}}));
  EXPECT_EQ(Call({{"call", "attachment"}, {"file_id", "f-2"}})["status"], "not_found");
  json raw = Call({{"call", "raw_message"}});
  EXPECT_EQ(raw["size"], host_.raw.size());
  EXPECT_EQ(Call({{"call", "config_get"}, {"key", "greeting"}}),
            json({{"ok", true}, {"found", true}, {"value", "Howdy"}}));
  EXPECT_EQ(Call({{"call", "config_get"}, {"key", "other"}}),
            json({{"ok", true}, {"found", false}}));
  EXPECT_EQ(Call({{"call", "log"}, {"message", "hello"}, {"level", "warn"}}), json({{"ok", true}}));
  ASSERT_FALSE(host_.logs.empty());
  EXPECT_EQ(host_.logs.back().level, THREADMILL_LOG_WARN);
  EXPECT_EQ(host_.logs.back().message, "hello");
}

TEST_F(BridgeCalls, BadArgumentsAndUnknownCallsAreInvalid) {
  const std::pair<json, const char*> cases[] = {
      {{{"call", "nope"}}, "unknown-call"},
      {{{"call", "kv_get"}}, "\"key\""},
      {{{"call", "kv_get"}, {"key", 5}}, "\"key\""},
      {{{"call", "kv_put"}, {"key", "k"}}, "\"value\""},
      {{{"call", "kv_put"}, {"key", "k"}, {"value_base64", "***"}}, "base64"},
      {{{"call", "kv_put"}, {"key", "k"}, {"value", "a"}, {"value_base64", "YQ=="}}, "not both"},
      {{{"call", "kv_list"}, {"limit", 0}}, "\"limit\""},
      {{{"call", "kv_list"}, {"limit", 1001}}, "\"limit\""},
      {{{"call", "kv_list"}, {"include_values", "yes"}}, "include_values"},
      {{{"call", "send"}, {"subject", "S"}, {"text", "T"}}, "\"to\""},
      {{{"call", "send"}, {"to", {"a@b", 3}}, {"subject", "S"}, {"text", "T"}}, "\"to\""},
      {{{"call", "send"}, {"to", "a@b"}, {"text", "T"}}, "\"subject\""},
      {{{"call", "reply"}}, "\"text\""},
      {{{"call", "reply"}, {"text", "x"}, {"html", 1}}, "\"html\""},
      {{{"call", "log"}, {"message", "m"}, {"level", "loud"}}, "level"},
      {{{"call", "attachment"}}, "file_id"},
  };
  for (const auto& [request, why] : cases) {
    json got = Call(request);
    EXPECT_EQ(got["ok"], false) << request;
    EXPECT_EQ(got["status"], "invalid") << request;
    EXPECT_NE(got["error"].get<std::string>().find(why), std::string::npos)
        << request << " -> " << got;
  }
  EXPECT_TRUE(host_.kv.empty());
  EXPECT_TRUE(host_.replies.empty());
}

// ABI 1.1's host->thread through the bridge: the messages oldest first; another thread is
// not found.
TEST_F(BridgeCalls, ThreadListsTheConversation) {
  host_.OfferAbi11Slots();
  host_.thread_messages = {
      {sizeof(threadmill_thread_message), THREADMILL_DIR_OUTBOUND, 100, "<a@x>", "bot@x", "Hi", ""},
      {sizeof(threadmill_thread_message), THREADMILL_DIR_INBOUND, 150, "<b@y>", "c@y", "Re: Hi",
       "<a@x>"}};
  json got = Call({{"call", "thread"}});
  ASSERT_EQ(got["ok"], true) << got;
  EXPECT_EQ(got["thread_id"], "thread-1");
  ASSERT_EQ(got["messages"].size(), 2u) << got;
  EXPECT_EQ(got["messages"][0]["direction"], "outbound");
  EXPECT_EQ(got["messages"][1]["in_reply_to"], "<a@x>");
  EXPECT_EQ(got["message_total"], 2);
  json other = Call({{"call", "thread"}, {"thread_id", "thread-9"}});
  EXPECT_EQ(other["ok"], false) << other;
  EXPECT_EQ(other["status"], "not_found") << other;
}

TEST_F(BridgeCalls, TheStartLineListsEveryCallOnce) {
  std::vector<std::string> names = CallNames();
  EXPECT_EQ(names, (std::vector<std::string>{"kv_get", "kv_put", "kv_delete", "kv_list", "send",
                                             "reply", "draft", "attachment", "raw_message",
                                             "thread", "config_get", "log"}));
  for (const auto& n : names) EXPECT_EQ(FindCall(n)->name, n);
}

TEST_F(BridgeCalls, AnswersCarryActionsInOrderAndLogTheirResults) {
  host_.accept_sends = true;
  ParsedAction parsed = ParseAction(R"({"actions":[
      {"call":"kv_put","key":"k","value":"v"},
      {"call":"send","to":"x@example.org","subject":"S","text":"T"},
      {"call":"reply","text":"Hi"},
      {"call":"draft","text":"Later"}]})");
  ASSERT_TRUE(parsed.ok) << parsed.error;
  Context ctx(&host_.ctx, &host_.api);
  EXPECT_EQ(ApplyAction(ctx, &mail_.envelope(), parsed.action, "test"), THREADMILL_OK)
      << host_.AllLogs();
  EXPECT_EQ(host_.kv["k"], "v");
  EXPECT_EQ(host_.sends.size(), 1u);
  EXPECT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.drafts.size(), 1u);
  EXPECT_TRUE(host_.Logged("action 2/4 send (asked by test): ok {\"thread_id\":\"thread-1\"}"))
      << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("action 4/4 draft (asked by test): ok {\"draft_id\":\"draft-1\"}"));
}

TEST_F(BridgeCalls, ActionsStopAtTheFirstThatEndsTheJob) {
  ParsedAction parsed = ParseAction(
      R"({"actions":[{"call":"reply","text":""},{"call":"kv_put","key":"k","value":"v"}]})");
  ASSERT_TRUE(parsed.ok) << parsed.error;
  Context ctx(&host_.ctx, &host_.api);
  EXPECT_EQ(ApplyAction(ctx, &mail_.envelope(), parsed.action, "test"), THREADMILL_FAIL);
  EXPECT_TRUE(host_.kv.empty());
  host_.kv_status = THREADMILL_STORE;
  parsed = ParseAction(R"({"actions":[{"call":"kv_delete","key":"k"}]})");
  EXPECT_EQ(ApplyAction(ctx, &mail_.envelope(), parsed.action, "test"), THREADMILL_RETRY);
}

TEST_F(BridgeCalls, ReadCallsAndMalformedActionsAreRejectedAtParse) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"actions":{}})", "not an array"},
      {R"({"actions":[1]})", "action 1"},
      {R"({"actions":[{"text":"x"}]})", "action 1"},
      {R"({"actions":[{"call":"log","message":"m"},{"call":"kv_get","key":"k"}]})",
       "action 2: \"kv_get\" is not an action"},
      {R"({"actions":[{"call":"fly"}]})", "\"fly\" is not an action"},
  };
  for (const auto& [body, why] : cases) {
    ParsedAction p = ParseAction(body);
    EXPECT_FALSE(p.ok) << body;
    EXPECT_NE(p.error.find(why), std::string::npos) << body << ": " << p.error;
  }
}

}  // namespace
}  // namespace threadmill::handlers::common
