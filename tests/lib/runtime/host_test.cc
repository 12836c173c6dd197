// The host side of the handler ABI in one process, without root and without a worker: the
// envelope InboundMessage builds (fields, flags, headers, attachments) and each host function
// called through HostApi() with a real context, real LMDB store and the fake sendmail.
#include "runtime/host.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "lib/reply/fake_sendmail.h"
#include "lib/runtime/runtime_test_util.h"
#include "store/thread_store.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(chmod(dir_.str().c_str(), 0755), 0);
    std::string path = dir_.str() + "/threadmill.conf";
    std::ofstream(path) << "[store]\npath = \"" << dir_.str() << "/db\"\n"
                        << "[log]\ntarget = \"stderr\"\n"
                        << "[reply]\nrequire_dmarc = false\nsendmail = [\"" << fake_.path()
                        << "\"]\nsendmail_retry_delay_ms = 1\nsender_period_seconds = 0\n"
                        << "[handler.testgood]\ngreeting = \"Howdy\"\n";
    config_ = std::make_shared<RuntimeConfig>(ParseRuntimeConfig(*config::Load(path)));
    env_ = testing::OpenTestEnv(config_->store_path);
    services_ = HostServices::Create(env_, config_);
    LoaderOptions options;
    options.owner_uid = geteuid();
    for (const char* fixture : {"good", "crash"}) {
      auto m = LoadModule(testing::InstallFixture(dir_.str(), fixture), options);
      ASSERT_TRUE(m.ok()) << m.error().message;
      modules_.push_back(std::move(*m));
    }
    store::ThreadStore threads(env_);
    store::MessageRecord in;
    in.msgid = "h1@example.org";
    in.time = 1;
    job_.thread_id = threads.RecordMessage(in)->thread_id;
    job_.id = "J1";
    job_.handler = "testgood";
    job_.mail_from = "alice@example.org";
    job_.recipient = "help@example.com";
    job_.queue_id = "Q1";
    job_.message_id = "h1@example.org";
    job_.dmarc = "pass";
    job_.sender_authenticated = true;
    job_.attempts = 2;
    job_.references_count = 1;
  }
  // A context for a call of `module` (0 testgood, 1 crasher) on `message` (may be null).
  threadmill_ctx Ctx(const InboundMessage* message, size_t module = 0) {
    threadmill_ctx ctx;
    ctx.services = services_.get();
    ctx.module = modules_[module].get();
    ctx.job = message ? &job_ : nullptr;
    ctx.message = message;
    return ctx;
  }

  testing::TempDir dir_;
  testing::FakeSendmail fake_{dir_.str()};
  std::shared_ptr<const RuntimeConfig> config_;
  std::shared_ptr<store::Environment> env_;
  std::unique_ptr<HostServices> services_;
  std::vector<std::unique_ptr<LoadedModule>> modules_;
  Job job_;
  const threadmill_host_api* api_ = HostApi();
};

TEST_F(HostTest, Envelope) {
  job_.thread_known = true;
  job_.thread_owner = "testgood";
  job_.parent_message_id = "ours1@example.com";
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  const threadmill_envelope* e = message.envelope();
  EXPECT_EQ(e->struct_size, sizeof(threadmill_envelope));
  EXPECT_STREQ(e->channel, "email");
  EXPECT_EQ(e->channel_thread_id, job_.thread_id);
  EXPECT_STREQ(e->channel_message_id, "<h1@example.org>");
  EXPECT_STREQ(e->sender_address, "alice@example.org");
  EXPECT_STREQ(e->sender_name, "Alice");
  EXPECT_STREQ(e->from_address, "alice@example.org");
  EXPECT_STREQ(e->user_id, "help@example.com");
  EXPECT_STREQ(e->subject, "Help me");
  EXPECT_NE(std::strstr(e->message_text, "> old text"), nullptr);
  EXPECT_EQ(std::strstr(e->reply_text, "old text"), nullptr);  // the quote is stripped
  EXPECT_NE(std::strstr(e->reply_text, "Hello there."), nullptr);
  EXPECT_STREQ(e->dmarc, "pass");
  EXPECT_EQ(e->references_count, 1u);
  EXPECT_EQ(e->flags, static_cast<uint32_t>(THREADMILL_ENV_THREAD_KNOWN));
  EXPECT_STREQ(e->no_reply_reason, "");
  EXPECT_STREQ(e->queue_id, "Q1");
  EXPECT_STREQ(e->thread_owner, "testgood");
  EXPECT_STREQ(e->job_id, "J1");
  EXPECT_EQ(e->attempt, 2u);
  EXPECT_STREQ(e->parent_message_id, "<ours1@example.com>");
  EXPECT_EQ(e->attachment_count, 0u);
  ASSERT_GE(e->header_count, 4u);
  EXPECT_STREQ(e->headers[0].name, "From");
  EXPECT_STREQ(e->headers[0].value, "Alice <alice@example.org>");
}

TEST_F(HostTest, EnvelopeFlags) {
  constexpr uint32_t kAuto = THREADMILL_ENV_AUTO_RESPONSE;
  struct Case {
    std::string headers;
    uint32_t flags;
  } cases[] = {
      {"", 0},
      {"Precedence: BULK\r\n", THREADMILL_ENV_BULK | kAuto},
      {"Precedence: junk\r\n", THREADMILL_ENV_BULK | kAuto},
      {"Precedence: List\r\n", THREADMILL_ENV_LIST | kAuto},
      {"List-Id: <l.example.org>\r\n", THREADMILL_ENV_LIST | kAuto},
      {"Auto-Submitted: auto-replied\r\n", THREADMILL_ENV_AUTO_SUBMITTED | kAuto},
      // Issue 11: the other dialects set the auto-response flag (and bulk for bulk markers).
      {"X-Autoreply: yes\r\nPrecedence: auto_reply\r\n", kAuto},
      {"X-Auto-Response-Suppress: OOF\r\n", kAuto},
      {"Feedback-ID: 1:c:esp\r\n", THREADMILL_ENV_BULK | kAuto},
      {"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n", kAuto},
      {"Auto-Submitted: no\r\n", 0},
  };
  for (const auto& c : cases) {
    InboundMessage message(job_, testing::Message("h1@example.org", "Hi", c.headers));
    uint32_t flags = message.envelope()->flags;
    EXPECT_EQ(flags & ~static_cast<uint32_t>(THREADMILL_ENV_NO_REPLY), c.flags) << c.headers;
    // Whatever makes a reply impossible says so, with its reason.
    bool no_reply = flags & THREADMILL_ENV_NO_REPLY;
    EXPECT_EQ(no_reply, c.flags != 0) << c.headers;
    EXPECT_EQ(no_reply, std::strlen(message.envelope()->no_reply_reason) > 0) << c.headers;
  }
}

TEST_F(HostTest, AttachmentsAndRawMessage) {
  std::string raw =
      "From: alice@example.org\r\nTo: help@example.com\r\nSubject: File\r\n"
      "Message-ID: <h1@example.org>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
      "--b\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n"
      "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nthe notes\r\n--b--\r\n";
  InboundMessage message(job_, raw);
  const threadmill_envelope* e = message.envelope();
  ASSERT_EQ(e->attachment_count, 1u);
  EXPECT_STREQ(e->attachments[0].filename, "notes.txt");
  threadmill_ctx ctx = Ctx(&message);
  const void* data = nullptr;
  size_t len = 0;
  ASSERT_EQ(api_->attachment_read(&ctx, e->attachments[0].file_id, &data, &len), THREADMILL_OK)
      << api_->last_error(&ctx);
  EXPECT_EQ(std::string(static_cast<const char*>(data), len).rfind("the notes", 0), 0u);
  EXPECT_NE(api_->attachment_read(&ctx, "no-such-file", &data, &len), THREADMILL_OK);
  ASSERT_EQ(api_->raw_message(&ctx, &data, &len), THREADMILL_OK);
  EXPECT_EQ(std::string(static_cast<const char*>(data), len), raw);
  threadmill_ctx outside = Ctx(nullptr);  // init/heartbeat: no current message
  EXPECT_EQ(api_->raw_message(&outside, &data, &len), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&outside), "no current message");
}

TEST_F(HostTest, KeyValueRecordsPerHandler) {
  threadmill_ctx ctx = Ctx(nullptr);
  threadmill_ctx other = Ctx(nullptr, 1);
  ASSERT_EQ(api_->kv_put(&ctx, "a:1", "one", 3), THREADMILL_OK);
  ASSERT_EQ(api_->kv_put(&ctx, "a:2", "two", 3), THREADMILL_OK);
  ASSERT_EQ(api_->kv_put(&ctx, "b:1", nullptr, 0), THREADMILL_OK);  // empty value
  const void* value = nullptr;
  size_t len = 0;
  ASSERT_EQ(api_->kv_get(&ctx, "a:2", &value, &len), THREADMILL_OK);
  EXPECT_EQ(std::string(static_cast<const char*>(value), len), "two");
  EXPECT_EQ(api_->kv_get(&other, "a:2", &value, &len), THREADMILL_NOT_FOUND);  // its own space
  EXPECT_STREQ(api_->last_error(&other), "not-found");
  const threadmill_kv_item* items = nullptr;
  size_t count = 0;
  ASSERT_EQ(api_->kv_list(&ctx, "a:", 10, 1, &items, &count), THREADMILL_OK);
  ASSERT_EQ(count, 2u);
  EXPECT_STREQ(items[0].key, "a:1");
  EXPECT_EQ(std::string(static_cast<const char*>(items[1].value), items[1].value_len), "two");
  ASSERT_EQ(api_->kv_list(&ctx, nullptr, 1, 0, &items, &count), THREADMILL_OK);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(items[0].value, nullptr);
  ASSERT_EQ(api_->kv_delete(&ctx, "a:1"), THREADMILL_OK);
  EXPECT_EQ(api_->kv_delete(&ctx, "a:1"), THREADMILL_NOT_FOUND);
  // Bad arguments are refused, never a crash.
  EXPECT_EQ(api_->kv_put(&ctx, nullptr, "x", 1), THREADMILL_INVALID);
  EXPECT_EQ(api_->kv_put(&ctx, "k", nullptr, 1), THREADMILL_INVALID);
  EXPECT_EQ(api_->kv_get(&ctx, "k", nullptr, &len), THREADMILL_INVALID);
  EXPECT_EQ(api_->kv_list(&ctx, "", 1, 0, nullptr, &count), THREADMILL_INVALID);
  EXPECT_EQ(api_->kv_put(nullptr, "k", "v", 1), THREADMILL_INVALID);
  threadmill_ctx empty;
  EXPECT_EQ(api_->kv_put(&empty, "k", "v", 1), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(nullptr), "");
}

TEST_F(HostTest, ConfigStateAndLog) {
  threadmill_ctx ctx = Ctx(nullptr);
  EXPECT_STREQ(api_->config_get(&ctx, "greeting"), "Howdy");
  EXPECT_EQ(api_->config_get(&ctx, "missing"), nullptr);
  EXPECT_EQ(api_->config_get(&ctx, nullptr), nullptr);
  EXPECT_EQ(api_->config_get(nullptr, "greeting"), nullptr);
  threadmill_ctx other = Ctx(nullptr, 1);
  EXPECT_EQ(api_->config_get(&other, "greeting"), nullptr);  // another handler's table
  int state = 0;
  ctx.state = &state;
  EXPECT_EQ(api_->state(&ctx), &state);
  EXPECT_EQ(api_->state(nullptr), nullptr);
  api_->log(&ctx, THREADMILL_LOG_WARN, "two\nlines");  // folded, never a crash
  api_->log(nullptr, 99, nullptr);
}

TEST_F(HostTest, ReplyOnlyToTheJobsMessageAndOnce) {
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  threadmill_ctx ctx = Ctx(&message);
  EXPECT_EQ(api_->reply(&ctx, "<other@example.org>", "Hi", nullptr), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "unknown-message-id");
  EXPECT_EQ(api_->reply(&ctx, "<h1@example.org>", "bad \xFF text", nullptr), THREADMILL_INVALID);
  EXPECT_EQ(api_->reply(&ctx, "<h1@example.org>", nullptr, nullptr), THREADMILL_INVALID);
  ASSERT_EQ(api_->reply(&ctx, "<h1@example.org>", "Hello Alice", nullptr), THREADMILL_OK)
      << api_->last_error(&ctx);
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_NE(fake_.Messages()[0].find("In-Reply-To: <h1@example.org>"), std::string::npos);
  EXPECT_EQ(api_->reply(&ctx, "h1@example.org", "Again", nullptr), THREADMILL_REFUSED);
  EXPECT_EQ(fake_.Messages().size(), 1u);
  threadmill_ctx outside = Ctx(nullptr);
  EXPECT_EQ(api_->reply(&outside, "<h1@example.org>", "Hi", nullptr), THREADMILL_INVALID);
}

TEST_F(HostTest, DraftStoredOrRefused) {
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  threadmill_ctx ctx = Ctx(&message);
  char id[64] = "";
  ASSERT_EQ(api_->draft(&ctx, "<h1@example.org>", "Draft", nullptr, id, sizeof id), THREADMILL_OK)
      << api_->last_error(&ctx);
  EXPECT_EQ(id[0], 'D');
  auto stored = services_->drafts->Get(id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->content.text, "Draft");
  EXPECT_EQ((*stored)->job_id, "J1");
  char tiny[4];
  EXPECT_EQ(api_->draft(&ctx, "<h1@example.org>", "Draft", nullptr, tiny, sizeof tiny),
            THREADMILL_INVALID);
  EXPECT_NE(std::string(api_->last_error(&ctx)).find("buffer too small"), std::string::npos);
  InboundMessage automatic(job_, testing::Message("h1@example.org", "Out of office",
                                                  "Auto-Submitted: auto-replied\r\n"));
  threadmill_ctx auto_ctx = Ctx(&automatic);
  EXPECT_EQ(api_->draft(&auto_ctx, "<h1@example.org>", "Draft", nullptr, id, sizeof id),
            THREADMILL_REFUSED);
  EXPECT_TRUE(fake_.Messages().empty());  // a draft is never sent by itself
}

}  // namespace
}  // namespace threadmill::runtime
