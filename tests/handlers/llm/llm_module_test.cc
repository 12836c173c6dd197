// llm_module_test.cc - the llm handler loaded from its real .so (THREADMILL_LLM_MODULE) and
// driven through the C ABI with the host test double (host_double.h), against stand_in.py: a
// loopback stand-in for a chat-completions endpoint. Covers what the end-to-end run through
// Postfix (tests/e2e/test_llm.py) cannot provoke: refused and failing deliveries, the stored
// answer of a retried job, the retry bound, time-outs, init refusals.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../host_double.h"
#include "../http_stand_in.h"

namespace threadmill::test {
namespace {

using nlohmann::json;

class LlmModuleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stand_in_ = new HttpStandIn(THREADMILL_LLM_STAND_IN, "llm_requests");
  }
  static void TearDownTestSuite() {
    delete stand_in_;
    stand_in_ = nullptr;
  }
  void SetUp() override { ASSERT_GT(stand_in_->port(), 0) << "stand_in.py did not start"; }

  int Load(const std::string& path, json extra = json::object()) {
    json config = {{"endpoint", stand_in_->Url(path)}, {"model", "m"}, {"timeout_seconds", 10}};
    config.merge_patch(extra);
    module_ = std::make_unique<Module>(THREADMILL_LLM_MODULE);
    return module_->Init(&host_, config.dump());
  }
  int Run() { return module_->OnInbound(mail_.envelope()); }
  size_t RequestsTo(const std::string& path) const {
    size_t n = 0;
    for (const json& r : stand_in_->Requests()) n += r["path"] == path;
    return n;
  }

  static HttpStandIn* stand_in_;
  HostDouble host_;
  EnvelopeData mail_;
  std::unique_ptr<Module> module_;
};

HttpStandIn* LlmModuleTest::stand_in_ = nullptr;

TEST_F(LlmModuleTest, ExportsTheV1EntryTable) {
  Module m(THREADMILL_LLM_MODULE);
  ASSERT_NE(m.table(), nullptr);
  EXPECT_STREQ(m.table()->name, "llm");
  EXPECT_EQ(m.table()->abi_major, THREADMILL_ABI_MAJOR);
}

TEST_F(LlmModuleTest, DraftsByDefaultAndStoresBothTurns) {
  ASSERT_EQ(Load("/ok"), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.drafts.size(), 1u);
  EXPECT_TRUE(host_.replies.empty());
  EXPECT_EQ(host_.drafts[0].message_id, "<m1@example.org>");
  EXPECT_TRUE(host_.drafts[0].text.rfind("Answer ", 0) == 0) << host_.drafts[0].text;
  EXPECT_EQ(host_.kv["turns:thread-1"], "2");
  EXPECT_EQ(json::parse(host_.kv["turn:thread-1:0000000000"])["content"], mail_.reply_text);
  EXPECT_EQ(json::parse(host_.kv["turn:thread-1:0000000001"])["content"], host_.drafts[0].text);
  EXPECT_TRUE(host_.Logged("answered <m1@example.org> (draft draft-1,")) << host_.AllLogs();
}

TEST_F(LlmModuleTest, AutoSendRepliesWithTheKeyHeader) {
  std::string key = ::testing::TempDir() + "llm_key_" + std::to_string(getpid());
  std::ofstream(key) << "sk-module-test\n";
  ASSERT_EQ(Load("/ok", {{"auto_send", true}, {"api_key_file", key}}), THREADMILL_OK)
      << host_.AllLogs();
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_TRUE(host_.drafts.empty());
  EXPECT_EQ(stand_in_->Requests().back()["headers"]["Authorization"], "Bearer sk-module-test");
  EXPECT_EQ(host_.AllLogs().find("sk-module-test"), std::string::npos);
  std::remove(key.c_str());
}

TEST_F(LlmModuleTest, NoModelCallWhenARepliesWouldBeRefused) {
  ASSERT_EQ(Load("/ok"), THREADMILL_OK);
  size_t before = stand_in_->Requests().size();
  mail_.flags = THREADMILL_ENV_NO_REPLY;
  mail_.no_reply_reason = "dmarc";
  EXPECT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(stand_in_->Requests().size(), before);
  EXPECT_TRUE(host_.drafts.empty());
  EXPECT_TRUE(host_.kv.empty());
  EXPECT_TRUE(host_.Logged("a reply would be refused (dmarc)")) << host_.AllLogs();
}

TEST_F(LlmModuleTest, RefusedReplyForgetsTheTurns) {
  ASSERT_EQ(Load("/ok", {{"auto_send", true}}), THREADMILL_OK);
  host_.RefuseReplies(THREADMILL_REFUSED, "rate-sender");
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(host_.kv["turns:thread-1"], "0");
  EXPECT_EQ(host_.kv.count("turn:thread-1:0000000000"), 0u);
  EXPECT_TRUE(host_.Logged("reply refused: status 1 (rate-sender); the turns are not kept"))
      << host_.AllLogs();
}

TEST_F(LlmModuleTest, StoreErrorOnReplyRetriesWithTheStoredAnswer) {
  ASSERT_EQ(Load("/ok", {{"auto_send", true}}), THREADMILL_OK);
  host_.RefuseReplies(THREADMILL_STORE, "sendmail failed");
  size_t before = RequestsTo("/ok");
  EXPECT_EQ(Run(), THREADMILL_RETRY) << host_.AllLogs();
  ASSERT_EQ(RequestsTo("/ok"), before + 1);
  std::string stored = json::parse(host_.kv["turn:thread-1:0000000001"])["content"];
  host_.RefuseReplies(THREADMILL_OK, "");
  mail_.attempt = 2;
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(RequestsTo("/ok"), before + 1);  // the model was not asked again
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].text, stored);
  EXPECT_EQ(host_.kv["turns:thread-1"], "2");
}

TEST_F(LlmModuleTest, TransientErrorsRetryUntilMaxRetries) {
  for (const char* path : {"/500", "/429"}) {
    ASSERT_EQ(Load(path, {{"max_retries", 2}}), THREADMILL_OK);
    for (uint32_t attempt : {1u, 2u}) {
      mail_.attempt = attempt;
      EXPECT_EQ(Run(), THREADMILL_RETRY) << path << " attempt " << attempt;
    }
    mail_.attempt = 3;
    EXPECT_EQ(Run(), THREADMILL_FAIL) << path;
    EXPECT_TRUE(host_.Logged("giving up after 3 attempts (max_retries 2)")) << host_.AllLogs();
    EXPECT_TRUE(host_.kv.empty());
  }
}

TEST_F(LlmModuleTest, TimeOutRetries) {
  ASSERT_EQ(Load("/slow", {{"timeout_seconds", 1}}), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY) << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("will retry (attempt 1)")) << host_.AllLogs();
}

TEST_F(LlmModuleTest, PermanentErrorsPark) {
  struct Case {
    const char* path;
    const char* log;
  };
  for (const Case& c : {Case{"/400", "HTTP 400: model 'x' not found, giving up (job parked)"},
                        Case{"/garbage", "not a JSON object"}, Case{"/nochoices", "no choices"},
                        Case{"/404", "HTTP 404"}}) {
    ASSERT_EQ(Load(c.path), THREADMILL_OK);
    EXPECT_EQ(Run(), THREADMILL_FAIL) << c.path;
    EXPECT_TRUE(host_.Logged(c.log)) << c.path << "\n" << host_.AllLogs();
    EXPECT_TRUE(host_.drafts.empty());
  }
}

TEST_F(LlmModuleTest, SecondTurnSendsTheFirst) {
  ASSERT_EQ(Load("/ok", {{"system_prompt", "Be brief."}}), THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  std::string first_answer = host_.drafts.at(0).text;
  mail_.channel_message_id = "<m2@example.org>";
  mail_.reply_text = "And Saturday?";
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  json body = json::parse(stand_in_->Requests().back()["body"].get<std::string>());
  json want = {{{"role", "system"}, {"content", "Be brief."}},
               {{"role", "user"}, {"content", "Hi Bob,\nlunch on Friday?"}},
               {{"role", "assistant"}, {"content", first_answer}},
               {{"role", "user"}, {"content", "And Saturday?"}}};
  EXPECT_EQ(body["messages"], want);
  // Another thread starts from nothing.
  mail_.channel_thread_id = "thread-2";
  mail_.channel_message_id = "<m3@example.org>";
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  body = json::parse(stand_in_->Requests().back()["body"].get<std::string>());
  EXPECT_EQ(body["messages"].size(), 2u) << body.dump();
}

TEST_F(LlmModuleTest, BadConfigurationRefusesInit) {
  module_ = std::make_unique<Module>(THREADMILL_LLM_MODULE);
  EXPECT_EQ(module_->Init(&host_, R"({"model":"m"})"), THREADMILL_INVALID);
  EXPECT_TRUE(host_.Logged("llm: bad configuration: endpoint is required")) << host_.AllLogs();
}

}  // namespace
}  // namespace threadmill::test
