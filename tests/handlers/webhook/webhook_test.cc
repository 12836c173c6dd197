// webhook_test.cc - the webhook handler, loaded from its real .so (THREADMILL_WEBHOOK_MODULE)
// and driven through the C ABI with a host test double (host_double.h; the real host is the
// runtime's, tested there and end to end through Postfix). Requests go to a real HTTP server
// on loopback: server.py, started once for the suite, which records every request it gets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../host_double.h"
#include "../http_stand_in.h"

namespace threadmill::test {
namespace {

using nlohmann::json;

constexpr char kSecret[] = "s3cret-shared";

// A loopback port with nothing listening on it.
int DeadPort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);
  return ntohs(addr.sin_port);
}

class WebhookTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new HttpStandIn(THREADMILL_WEBHOOK_SERVER, "webhook_requests", {kSecret});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_GT(server_->port(), 0) << "the test HTTP server did not start"; }

  int Load(json config) {
    if (!config.contains("timeout_seconds")) config["timeout_seconds"] = 10;
    module_ = std::make_unique<Module>(THREADMILL_WEBHOOK_MODULE);
    return module_->Init(&host_, config.dump());
  }
  int LoadPath(const std::string& path, json extra = json::object()) {
    extra["url"] = server_->Url(path);
    return Load(extra);
  }
  int Run() { return module_->OnInbound(mail_.envelope()); }

  static HttpStandIn* server_;  // the recording HTTP server, one per test suite
  HostDouble host_;
  EnvelopeData mail_;
  std::unique_ptr<Module> module_;
};

HttpStandIn* WebhookTest::server_ = nullptr;

TEST_F(WebhookTest, ExportsTheV1EntryTable) {
  Module m(THREADMILL_WEBHOOK_MODULE);
  ASSERT_NE(m.table(), nullptr);
  EXPECT_STREQ(m.table()->name, "webhook");
  EXPECT_EQ(m.table()->abi_major, THREADMILL_ABI_MAJOR);
}

TEST_F(WebhookTest, ReplyInTheResponseIsSent) {
  ASSERT_EQ(LoadPath("/reply"), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.replies.size(), 1u) << host_.AllLogs();
  EXPECT_EQ(host_.replies[0].message_id, "<m1@example.org>");
  EXPECT_EQ(host_.replies[0].text, "Thanks from the hook");
  EXPECT_EQ(host_.replies[0].html, "<p>Thanks</p>");
  EXPECT_EQ(host_.kv["hook:last"], "seen");
}

TEST_F(WebhookTest, RequestBodyIsTheEnvelopeJsonAndHeadersAreSent) {
  mail_.attachments.push_back({"f-9", "invoice.pdf", "application/pdf", 999});
  mail_.attempt = 2;
  ASSERT_EQ(LoadPath("/none", {{"headers", {"Authorization: Bearer abc123", "X-Tenant: t1"}},
                               {"secret", kSecret}}),
            THREADMILL_OK)
      << host_.AllLogs();
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  auto requests = server_->Requests();
  ASSERT_FALSE(requests.empty());
  const json& req = requests.back();
  EXPECT_EQ(req["path"], "/none");
  json body = json::parse(req["body"].get<std::string>());
  EXPECT_EQ(body["channel"], "email");
  EXPECT_EQ(body["channel_message_id"], "<m1@example.org>");
  EXPECT_EQ(body["sender"], "alice@example.org");
  EXPECT_EQ(body["subject"], "Lunch on Friday?");
  EXPECT_EQ(body["reply_text"], mail_.reply_text);
  EXPECT_EQ(body["attachments"][0]["filename"], "invoice.pdf");
  EXPECT_EQ(body["received_time"], 1700000000);
  const json& h = req["headers"];
  EXPECT_EQ(h["Content-Type"], "application/json");
  EXPECT_EQ(h["Authorization"], "Bearer abc123");
  EXPECT_EQ(h["X-Tenant"], "t1");
  EXPECT_EQ(h["X-Threadmill-Job"], "job-42");
  EXPECT_EQ(h["X-Threadmill-Attempt"], "2");
  EXPECT_EQ(req["signature_ok"], true) << h.dump();
  EXPECT_TRUE(host_.replies.empty());
}

TEST_F(WebhookTest, WithoutSecretThereIsNoSignature) {
  ASSERT_EQ(LoadPath("/none"), THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_FALSE(server_->Requests().back()["headers"].contains("X-Threadmill-Signature"));
}

TEST_F(WebhookTest, SecretFileSignsToo) {
  std::string path = ::testing::TempDir() + "webhook_secret";
  std::ofstream(path) << kSecret << "\n";
  ASSERT_EQ(LoadPath("/none", {{"secret_file", path}}), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(server_->Requests().back()["signature_ok"], true);
  std::remove(path.c_str());
}

TEST_F(WebhookTest, DraftInTheResponseStoresADraft) {
  ASSERT_EQ(LoadPath("/draft"), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.drafts.size(), 1u);
  EXPECT_EQ(host_.drafts[0].text, "For approval");
  EXPECT_TRUE(host_.replies.empty());
}

TEST_F(WebhookTest, EmptyOrNonJsonSuccessDoesNothing) {
  for (const char* path : {"/empty", "/nocontent", "/text", "/none"}) {
    ASSERT_EQ(LoadPath(path), THREADMILL_OK);
    EXPECT_EQ(Run(), THREADMILL_OK) << path << "\n" << host_.AllLogs();
  }
  EXPECT_TRUE(host_.replies.empty());
  EXPECT_TRUE(host_.drafts.empty());
}

TEST_F(WebhookTest, ServerErrorsAndRateLimitsAreRetried) {
  for (const char* path : {"/500", "/503", "/429"}) {
    ASSERT_EQ(LoadPath(path), THREADMILL_OK);
    EXPECT_EQ(Run(), THREADMILL_RETRY) << path;
  }
  EXPECT_TRUE(host_.Logged("answered 500, will retry: boom")) << host_.AllLogs();
}

TEST_F(WebhookTest, ClientErrorsAndRedirectsFail) {
  ASSERT_EQ(LoadPath("/404"), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("answered 404, giving up: no such hook")) << host_.AllLogs();
  ASSERT_EQ(LoadPath("/302"), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("redirects are not followed")) << host_.AllLogs();
  EXPECT_TRUE(host_.replies.empty());
}

TEST_F(WebhookTest, InvalidJsonAnswerFails) {
  ASSERT_EQ(LoadPath("/garbage"), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("invalid answer")) << host_.AllLogs();
}

TEST_F(WebhookTest, ResponsePastTheCapFails) {
  ASSERT_EQ(LoadPath("/huge", {{"max_response_bytes", 65536}}), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("max_response_bytes")) << host_.AllLogs();
  ASSERT_EQ(LoadPath("/huge"), THREADMILL_OK);  // within the default 1 MiB
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
}

TEST_F(WebhookTest, ServerDownIsRetried) {
  ASSERT_EQ(Load({{"url", "http://127.0.0.1:" + std::to_string(DeadPort()) + "/hook"}}),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("will retry")) << host_.AllLogs();
}

TEST_F(WebhookTest, TimeoutIsRetried) {
  ASSERT_EQ(LoadPath("/slow", {{"timeout_seconds", 1}}), THREADMILL_OK);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2900));
  EXPECT_TRUE(host_.Logged("will retry")) << host_.AllLogs();
}

TEST_F(WebhookTest, RefusedReplyIsLoggedNotAnError) {
  host_.RefuseReplies(THREADMILL_REFUSED, "rate limit");
  ASSERT_EQ(LoadPath("/reply"), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("refused: rate limit")) << host_.AllLogs();
}

TEST_F(WebhookTest, BadConfigurationRefusesInit) {
  EXPECT_NE(Load(json::object()), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("url is required")) << host_.AllLogs();
  EXPECT_NE(Load({{"url", "ftp://example.org/x"}}), THREADMILL_OK);
  EXPECT_NE(Load({{"url", "file:///etc/passwd"}}), THREADMILL_OK);
  EXPECT_NE(Load({{"url", server_->Url("/x")}, {"headers", {"Bad header"}}}), THREADMILL_OK);
  EXPECT_NE(Load({{"url", server_->Url("/x")}, {"headers", {"X-A: b\r\nX-B: c"}}}), THREADMILL_OK);
  EXPECT_NE(Load({{"url", server_->Url("/x")}, {"secret_file", "/nonexistent"}}), THREADMILL_OK);
  EXPECT_NE(Load({{"url", server_->Url("/x")}, {"timeout_seconds", -1}}), THREADMILL_OK);
}

TEST_F(WebhookTest, ActionsInTheResponseAreCarriedOutInOrderAndLogged) {
  host_.accept_sends = true;
  ASSERT_EQ(LoadPath("/actions"), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(host_.kv["ticket:1"], "{\"state\":\"open\"}");
  ASSERT_EQ(host_.sends.size(), 1u);
  EXPECT_EQ(host_.sends[0].to, std::vector<std::string>{"ops@example.net"});
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].message_id, "<m1@example.org>");
  EXPECT_EQ(host_.replies[0].text, "Ticket 1 is open");
  ASSERT_EQ(host_.drafts.size(), 1u);
  EXPECT_TRUE(host_.Logged("action 2/4 send (asked by webhook " + server_->Url("/actions") +
                           "): ok {\"thread_id\":\"thread-1\"}"))
      << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("action 4/4 draft")) << host_.AllLogs();
}

TEST_F(WebhookTest, AReadCallAsAnActionFailsTheJob) {
  ASSERT_EQ(LoadPath("/bad-action"), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("\"kv_get\" is not an action")) << host_.AllLogs();
  EXPECT_EQ(host_.kv_gets, 0);
}

TEST_F(WebhookTest, HeartbeatPostsToHeartbeatUrlAndCarriesOutItsActions) {
  host_.accept_sends = true;
  host_.kv["pending:1"] = "x";
  ASSERT_EQ(LoadPath("/none", {{"heartbeat_url", server_->Url("/heartbeat")}, {"secret", kSecret}}),
            THREADMILL_OK)
      << host_.AllLogs();
  size_t before = server_->Requests().size();
  EXPECT_EQ(module_->OnHeartbeat(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(module_->OnHeartbeat(), THREADMILL_OK) << host_.AllLogs();
  std::vector<json> requests = server_->Requests();
  ASSERT_EQ(requests.size(), before + 2);
  const json& r = requests[before];
  EXPECT_EQ(r["path"], "/heartbeat");
  EXPECT_EQ(r["headers"]["X-Threadmill-Event"], "heartbeat");
  EXPECT_FALSE(r["headers"].contains("X-Threadmill-Job"));
  EXPECT_TRUE(r["signature_ok"]);
  json body = json::parse(r["body"].get<std::string>());
  EXPECT_EQ(body["type"], "heartbeat");
  EXPECT_EQ(body["id"], 1);
  EXPECT_EQ(json::parse(requests[before + 1]["body"].get<std::string>())["id"], 2);
  ASSERT_EQ(host_.sends.size(), 2u);
  EXPECT_EQ(host_.sends[0].subject, "Digest");
  EXPECT_EQ(host_.kv.count("pending:1"), 0u);
}

TEST_F(WebhookTest, WithoutHeartbeatUrlAHeartbeatPostsNothing) {
  ASSERT_EQ(LoadPath("/none"), THREADMILL_OK) << host_.AllLogs();
  size_t before = server_->Requests().size();
  EXPECT_EQ(module_->OnHeartbeat(), THREADMILL_OK);
  EXPECT_EQ(server_->Requests().size(), before);
  EXPECT_EQ(LoadPath("/none", {{"heartbeat_url", "ftp://x/"}}), THREADMILL_INVALID);
  EXPECT_TRUE(host_.Logged("heartbeat_url:")) << host_.AllLogs();
}

TEST_F(WebhookTest, InboundRequestsSayTheirEvent) {
  ASSERT_EQ(LoadPath("/none"), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(server_->Requests().back()["headers"]["X-Threadmill-Event"], "inbound");
}

}  // namespace
}  // namespace threadmill::test
