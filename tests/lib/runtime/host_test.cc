// The host side of the handler ABI in one process, without root and without a worker: the
// envelope InboundMessage builds (fields, flags, headers, attachments) and each host function
// called through HostApi() with a real context, real LMDB store and the fake sendmail.
#include "runtime/host.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "lib/reply/fake_sendmail.h"
#include "lib/runtime/runtime_test_util.h"
#include "mail/header.h"
#include "mail/mime.h"
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
                        << "[handler.testgood]\ngreeting = \"Howdy\"\n"
                        << "from = \"bot@example.com\"\n";
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
  EXPECT_EQ(e->reply_allowed, 1u);
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
    EXPECT_EQ(message.envelope()->reply_allowed, no_reply ? 0u : 1u) << c.headers;
  }
}

// Issue 10 item 3: with the worker's replier, the envelope predicts every refusal known at
// dispatch: the milter's verdict, DMARC under require_dmarc, and the ledger (already replied).
TEST_F(HostTest, EnvelopePredictsRefusals) {
  auto config = std::make_shared<RuntimeConfig>(*config_);
  config->reply.require_dmarc = true;
  auto services = HostServices::Create(env_, config);
  struct {
    const char* name;
    std::string dmarc;
    bool sender_authenticated;
    const char* milter_reason;
    const char* want;
  } cases[] = {
      {"allowed", "pass", true, "", ""},
      {"dmarc none", "none", true, "", "dmarc"},
      {"milter verdict", "pass", false, "unauthenticated-sender", "unauthenticated-sender"},
  };
  for (const auto& c : cases) {
    Job job = job_;
    job.dmarc = c.dmarc;
    job.sender_authenticated = c.sender_authenticated;
    job.no_reply_reason = c.milter_reason;
    InboundMessage message(job, testing::Message("h1@example.org", "Hi"), services->replier.get());
    EXPECT_STREQ(message.envelope()->no_reply_reason, c.want) << c.name;
    EXPECT_EQ(message.envelope()->reply_allowed, *c.want ? 0u : 1u) << c.name;
  }
  // Answered once: the next attempt of the job is told before it calls a model.
  {
    InboundMessage message(job_, testing::Message("h1@example.org", "Hi"), services->replier.get());
    threadmill_ctx ctx = Ctx(&message);
    ctx.services = services.get();
    ASSERT_EQ(api_->reply(&ctx, "<h1@example.org>", "Answer", nullptr), THREADMILL_OK)
        << ctx.last_error;
  }
  InboundMessage again(job_, testing::Message("h1@example.org", "Hi"), services->replier.get());
  EXPECT_STREQ(again.envelope()->no_reply_reason, "already-replied");
  EXPECT_EQ(again.envelope()->reply_allowed, 0u);
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

TEST_F(HostTest, KvListAfterPagesAndPutTtlAreInTheTable) {
  ASSERT_GE(api_->struct_size, offsetof(threadmill_host_api, kv_put_ttl) + sizeof(void*));
  EXPECT_EQ(api_->abi_minor, 1u);
  threadmill_ctx ctx = Ctx(nullptr);
  for (int i = 0; i < 5; ++i) {
    std::string key = "p:" + std::to_string(i);
    ASSERT_EQ(api_->kv_put_ttl(&ctx, key.c_str(), "v", 1, i == 4 ? 3600 : 0), THREADMILL_OK);
  }
  const threadmill_kv_item* items = nullptr;
  size_t count = 0;
  std::vector<std::string> seen;
  std::string after;
  for (int guard = 0; guard < 10; ++guard) {
    ASSERT_EQ(api_->kv_list_after(&ctx, "p:", after.c_str(), 2, 0, &items, &count), THREADMILL_OK);
    for (size_t i = 0; i < count; ++i) seen.push_back(items[i].key);
    if (count < 2) break;
    after = items[count - 1].key;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"p:0", "p:1", "p:2", "p:3", "p:4"}));
  ASSERT_EQ(api_->kv_list_after(&ctx, "p:", nullptr, 0, 0, &items, &count), THREADMILL_OK);
  EXPECT_EQ(count, 5u) << "limit 0 means the maximum";
  std::string too_long(THREADMILL_KV_MAX_KEY_BYTES + 1, 'k');
  EXPECT_EQ(api_->kv_put_ttl(&ctx, too_long.c_str(), "v", 1, 10), THREADMILL_INVALID);
  EXPECT_EQ(api_->kv_list_after(&ctx, "", too_long.c_str(), 1, 0, &items, &count),
            THREADMILL_INVALID);
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

// Zeroed options claiming `size` bytes (what a module built against that struct passes).
threadmill_message_options Options(size_t size = sizeof(threadmill_message_options)) {
  threadmill_message_options o{};
  o.struct_size = static_cast<uint32_t>(size);
  return o;
}

// ABI 1.1: reply_ex with a subject, html, an attachment and an extra header; the Message-ID it
// returns is the one sent; threading headers as reply().
TEST_F(HostTest, ReplyExSubjectAttachmentAndHeaders) {
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  threadmill_ctx ctx = Ctx(&message);
  threadmill_outgoing_attachment file = {"report.txt", "text/plain", "line one\n", 9};
  threadmill_header header = {"X-Campaign", "spring"};
  threadmill_message_options o = Options();
  o.subject = "Your report";
  o.text = "See the file.";
  o.html = "<p>See the file.</p>";
  o.attachments = &file;
  o.attachment_count = 1;
  o.headers = &header;
  o.header_count = 1;
  char id[THREADMILL_ID_CAP] = "";
  ASSERT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &o, id, sizeof id), THREADMILL_OK)
      << api_->last_error(&ctx);
  ASSERT_EQ(fake_.Messages().size(), 1u);
  mail::ParsedMessage parsed = mail::ParseMessage(fake_.Messages()[0]);
  EXPECT_EQ(parsed.subject, "Your report");
  EXPECT_EQ(std::string(parsed.headers.Find("Message-ID")->value), std::string(id));
  EXPECT_EQ(parsed.headers.Find("In-Reply-To")->value, "<h1@example.org>");
  EXPECT_EQ(parsed.headers.Find("Auto-Submitted")->value, "auto-replied");
  EXPECT_EQ(parsed.headers.Find("X-Campaign")->value, "spring");
  EXPECT_NE(parsed.text.find("See the file."), std::string::npos);
  ASSERT_EQ(parsed.attachments.size(), 1u);
  EXPECT_EQ(parsed.attachments[0].filename, "report.txt");
  EXPECT_EQ(parsed.attachments[0].content_type, "text/plain");
  auto bytes = mail::ExtractAttachment(fake_.Messages()[0], parsed.attachments[0].file_id);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, "line one\n");
}

TEST_F(HostTest, ReplyExRefusesOwnedHeadersCcAndBadOptions) {
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  threadmill_ctx ctx = Ctx(&message);
  struct Case {
    const char* name;
    const char* value;
    const char* reason;
  } cases[] = {
      {"From", "x@example.org", "header-owned:From"},
      {"message-id", "<x@y>", "header-owned:message-id"},
      {"In-Reply-To", "<x@y>", "header-owned:In-Reply-To"},
      {"References", "<x@y>", "header-owned:References"},
      {"Auto-Submitted", "no", "header-owned:Auto-Submitted"},
      {"Content-Type", "text/html", "header-owned:Content-Type"},
      {"MIME-Version", "1.0", "header-owned:MIME-Version"},
      {"Date", "now", "header-owned:Date"},
      {"Bad Name", "v", "header-name"},
      {"X-Ok", "two\r\nBcc: evil@example.org", "header-value"},
  };
  for (const auto& c : cases) {
    threadmill_header h = {c.name, c.value};
    threadmill_message_options o = Options();
    o.text = "Hi";
    o.headers = &h;
    o.header_count = 1;
    EXPECT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &o, nullptr, 0), THREADMILL_INVALID)
        << c.name;
    EXPECT_STREQ(api_->last_error(&ctx), c.reason);
  }
  const char* cc[] = {"carol@example.org"};
  threadmill_message_options o = Options();
  o.text = "Hi";
  o.cc = cc;
  o.cc_count = 1;
  EXPECT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &o, nullptr, 0), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "cc-not-allowed");
  threadmill_outgoing_attachment bad = {"x", "not a type", "x", 1};
  threadmill_message_options with_bad = Options();
  with_bad.text = "Hi";
  with_bad.attachments = &bad;
  with_bad.attachment_count = 1;
  EXPECT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &with_bad, nullptr, 0), THREADMILL_INVALID);
  threadmill_message_options tiny = Options(offsetof(threadmill_message_options, text));
  tiny.text = "Hi";  // not covered by struct_size
  EXPECT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &tiny, nullptr, 0), THREADMILL_INVALID);
  EXPECT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", nullptr, nullptr, 0), THREADMILL_INVALID);
  EXPECT_TRUE(fake_.Messages().empty());
  // An ABI 1.0-sized options struct (subject, text only) works: later members are not read.
  threadmill_message_options old = Options(offsetof(threadmill_message_options, html));
  old.text = "Hi";
  old.html = "<p>never read</p>";
  ASSERT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &old, nullptr, 0), THREADMILL_OK)
      << api_->last_error(&ctx);
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_EQ(fake_.Messages()[0].find("never read"), std::string::npos);
  EXPECT_NE(fake_.Messages()[0].find("Subject: Re: Help me"), std::string::npos);
}

// send_ex from a heartbeat (no job): To + Cc, the new Message-ID and thread id returned and
// recorded; the thread is the handler's and host->thread shows it.
TEST_F(HostTest, SendExFromHeartbeatReturnsIdsAndThreadShowsIt) {
  threadmill_ctx ctx = Ctx(nullptr);  // on_heartbeat: no job, no message
  const char* to[] = {"carol@example.org"};
  const char* cc[] = {"dave@example.org"};
  threadmill_message_options o = Options();
  o.subject = "Monthly digest";
  o.text = "Hello Carol.";
  o.cc = cc;
  o.cc_count = 1;
  char thread[THREADMILL_ID_CAP] = "", id[THREADMILL_ID_CAP] = "";
  ASSERT_EQ(api_->send_ex(&ctx, to, 1, &o, thread, sizeof thread, id, sizeof id), THREADMILL_OK)
      << api_->last_error(&ctx);
  ASSERT_EQ(fake_.Messages().size(), 1u);
  mail::ParsedMessage parsed = mail::ParseMessage(fake_.Messages()[0]);
  EXPECT_EQ(parsed.subject, "Monthly digest");
  EXPECT_EQ(std::string(parsed.headers.Find("Message-ID")->value), std::string(id));
  EXPECT_EQ(parsed.headers.Find("Cc")->value, "<dave@example.org>");
  EXPECT_EQ(parsed.headers.Find("From")->value, "<bot@example.com>");
  EXPECT_EQ(parsed.headers.Find("Auto-Submitted")->value, "auto-generated");
  EXPECT_EQ(fake_.Args().back().find("dave@example.org") != std::string::npos, true);
  const threadmill_thread* t = nullptr;
  ASSERT_EQ(api_->thread(&ctx, thread, &t), THREADMILL_OK) << api_->last_error(&ctx);
  EXPECT_EQ(t->struct_size, sizeof(threadmill_thread));
  EXPECT_STREQ(t->thread_id, thread);
  EXPECT_STREQ(t->owner, "testgood");
  EXPECT_STREQ(t->subject, "Monthly digest");
  ASSERT_EQ(t->message_count, 1u);
  EXPECT_STREQ(t->messages[0]->message_id, id);
  EXPECT_EQ(t->messages[0]->direction, THREADMILL_DIR_OUTBOUND);
  EXPECT_STREQ(t->messages[0]->from, "bot@example.com");
  EXPECT_GT(t->messages[0]->time, 0);
  // Another handler cannot read it (as if it did not exist); nor can anyone a made-up one.
  threadmill_ctx other = Ctx(nullptr, 1);
  EXPECT_EQ(api_->thread(&other, thread, &t), THREADMILL_NOT_FOUND);
  EXPECT_EQ(api_->thread(&ctx, "Tnosuchthread", &t), THREADMILL_NOT_FOUND);
  EXPECT_EQ(api_->thread(&ctx, nullptr, &t), THREADMILL_INVALID);  // no current message
  // send (1.0) from a heartbeat works too.
  char plain_thread[64];
  ASSERT_EQ(api_->send(&ctx, to, 1, "Second", "Text", plain_thread, sizeof plain_thread),
            THREADMILL_OK)
      << api_->last_error(&ctx);
  EXPECT_EQ(fake_.Messages().size(), 2u);
  // A subject is required for send_ex.
  threadmill_message_options no_subject = Options();
  no_subject.text = "x";
  EXPECT_EQ(api_->send_ex(&ctx, to, 1, &no_subject, nullptr, 0, nullptr, 0), THREADMILL_INVALID);
}

// The current message's thread (thread_id NULL): its inbound message with direction and from.
TEST_F(HostTest, ThreadOfTheCurrentMessage) {
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  threadmill_ctx ctx = Ctx(&message);
  ASSERT_EQ(api_->reply(&ctx, "<h1@example.org>", "Hello Alice", nullptr), THREADMILL_OK)
      << api_->last_error(&ctx);
  const threadmill_thread* t = nullptr;
  ASSERT_EQ(api_->thread(&ctx, nullptr, &t), THREADMILL_OK) << api_->last_error(&ctx);
  EXPECT_EQ(t->thread_id, job_.thread_id);
  ASSERT_EQ(t->message_count, 2u);
  EXPECT_EQ(t->message_total, 2u);
  EXPECT_STREQ(t->messages[0]->message_id, "<h1@example.org>");
  EXPECT_EQ(t->messages[0]->direction, THREADMILL_DIR_INBOUND);
  EXPECT_EQ(t->messages[1]->direction, THREADMILL_DIR_OUTBOUND);
  EXPECT_STREQ(t->messages[1]->in_reply_to, "<h1@example.org>");
  EXPECT_STREQ(t->messages[1]->from, "help@example.com");
  EXPECT_EQ(api_->thread(&ctx, nullptr, nullptr), THREADMILL_INVALID);
}

// [handlers] thread_messages_max caps host->thread (the oldest kept; message_total counts all).
TEST_F(HostTest, ThreadMessagesCapped) {
  auto capped = std::make_shared<RuntimeConfig>(*config_);
  capped->thread_messages_max = 2;
  std::unique_ptr<HostServices> services = HostServices::Create(env_, capped);
  store::ThreadStore threads(env_);
  for (int i = 2; i <= 3; ++i) {
    store::MessageRecord m;
    m.msgid = "h" + std::to_string(i) + "@example.org";
    m.thread_id = job_.thread_id;
    m.time = i;
    ASSERT_TRUE(threads.RecordMessage(m).ok());
  }
  InboundMessage message(job_, testing::Message("h1@example.org", "Help me"));
  threadmill_ctx ctx = Ctx(&message);
  ctx.services = services.get();
  const threadmill_thread* t = nullptr;
  ASSERT_EQ(api_->thread(&ctx, nullptr, &t), THREADMILL_OK) << api_->last_error(&ctx);
  ASSERT_EQ(t->message_count, 2u);
  EXPECT_EQ(t->message_total, 3u);
  EXPECT_STREQ(t->messages[0]->message_id, "<h1@example.org>");
  EXPECT_STREQ(t->messages[1]->message_id, "<h2@example.org>");
  ctx.services = services_.get();  // the default: all three
  ASSERT_EQ(api_->thread(&ctx, nullptr, &t), THREADMILL_OK);
  EXPECT_EQ(t->message_count, 3u);
}

// init runs in every worker again: calls with mail effects or needing a message are refused.
TEST_F(HostTest, InitAllowsOnlyItsCalls) {
  threadmill_ctx ctx = Ctx(nullptr);
  ctx.in_init = true;
  const char* to[] = {"carol@example.org"};
  char out[64];
  const void* data = nullptr;
  size_t len = 0;
  threadmill_message_options o = Options();
  o.subject = "s";
  o.text = "t";
  EXPECT_EQ(api_->send(&ctx, to, 1, "s", "t", out, sizeof out), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "not-allowed-in-init");
  EXPECT_EQ(api_->send_ex(&ctx, to, 1, &o, out, sizeof out, nullptr, 0), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "not-allowed-in-init");
  EXPECT_EQ(api_->reply(&ctx, "<h1@example.org>", "t", nullptr), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "not-allowed-in-init");
  EXPECT_EQ(api_->reply_ex(&ctx, "<h1@example.org>", &o, nullptr, 0), THREADMILL_INVALID);
  EXPECT_EQ(api_->draft(&ctx, "<h1@example.org>", "t", nullptr, out, sizeof out),
            THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "not-allowed-in-init");
  EXPECT_EQ(api_->raw_message(&ctx, &data, &len), THREADMILL_INVALID);
  EXPECT_STREQ(api_->last_error(&ctx), "not-allowed-in-init");
  EXPECT_EQ(api_->attachment_read(&ctx, "1", &data, &len), THREADMILL_INVALID);
  EXPECT_TRUE(fake_.Messages().empty());
  // Allowed: kv, config, log.
  EXPECT_EQ(api_->kv_put(&ctx, "schema", "1", 1), THREADMILL_OK);
  EXPECT_STREQ(api_->last_error(&ctx), "");  // cleared by a successful call
  EXPECT_EQ(api_->kv_get(&ctx, "schema", &data, &len), THREADMILL_OK);
  EXPECT_STREQ(api_->config_get(&ctx, "greeting"), "Howdy");
  api_->log(&ctx, THREADMILL_LOG_INFO, "init");
}

// The table is ABI 1.1 and says so.
TEST_F(HostTest, HostTableIsAbi11) {
  EXPECT_EQ(api_->abi_major, 1u);
  EXPECT_EQ(api_->abi_minor, 1u);
  EXPECT_TRUE(THREADMILL_HAS_MEMBER(api_->struct_size, threadmill_host_api, thread));
  EXPECT_NE(api_->reply_ex, nullptr);
  EXPECT_NE(api_->send_ex, nullptr);
  EXPECT_NE(api_->thread, nullptr);
}

}  // namespace
}  // namespace threadmill::runtime