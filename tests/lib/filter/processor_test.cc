// Processor tests against a real LMDB store in a temporary directory.
#include "filter/processor.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include "support/temp_dir.h"

namespace threadmill::filter {
namespace {

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(""); }

  void Open(const std::string& extra) {
    config_ = config::LoadFromString("[milter]\nhostname = \"mx.example.com\"\n[store]\npath = \"" +
                                     dir_.str() + "/store\"\n" + extra);
    store::EnvOptions options;
    options.path = config_->store.path;
    options.map_size_bytes = 1 << 20;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    store_ = std::make_shared<store::ThreadStore>(*env);
    processor_ = std::make_unique<Processor>(config_, store_);
  }

  Decision Send(const char* client, std::vector<std::pair<std::string, std::string>> fields,
                Envelope* out_envelope = nullptr) {
    Envelope envelope;
    envelope.client_addr = client;
    envelope.mail_from = "a@example.org";
    envelope.recipients = {"b@example.com"};
    envelope.queue_id = "Q" + std::to_string(++queue_);
    MessageHeaders headers(config_->milter.max_header_bytes);
    for (const auto& [name, value] : fields) headers.Add(name, value);
    if (out_envelope) *out_envelope = envelope;
    return processor_->Decide(envelope, headers);
  }

  testing::TempDir dir_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<store::ThreadStore> store_;
  std::unique_ptr<Processor> processor_;
  int queue_ = 0;
};

constexpr const char* kInside = "127.0.0.1";
constexpr const char* kOutside = "198.51.100.7";

TEST_F(ProcessorTest, OutboundIsRecordedAndInboundReplyMatches) {
  auto out = Send(kInside, {{"Message-ID", "<first@example.com>"}, {"Subject", "Hello"}});
  EXPECT_EQ(out.decision, "recorded");
  EXPECT_EQ(out.direction, store::Direction::kOutbound);
  EXPECT_EQ(out.resolution.method, thread::MatchMethod::kNone);
  ASSERT_FALSE(out.resolution.thread_id.empty());

  auto reply = Send(kOutside, {{"Message-ID", "<r1@example.org>"},
                               {"In-Reply-To", "<first@example.com>"},
                               {"References", "<first@example.com>"}});
  EXPECT_EQ(reply.decision, "matched");
  EXPECT_EQ(reply.resolution.method, thread::MatchMethod::kInReplyTo);
  EXPECT_EQ(reply.resolution.parent, "first@example.com");
  EXPECT_EQ(reply.resolution.thread_id, out.resolution.thread_id);

  // Our answer to the reply, then their answer carrying References only: same thread.
  auto ours =
      Send(kInside, {{"Message-ID", "<second@example.com>"}, {"In-Reply-To", "<r1@example.org>"}});
  EXPECT_EQ(ours.decision, "recorded");
  EXPECT_EQ(ours.resolution.thread_id, out.resolution.thread_id);
  auto theirs = Send(kOutside, {{"Message-ID", "<r2@example.org>"},
                                {"References",
                                 "<first@example.com> <r1@example.org> "
                                 "<second@example.com> <unknown@elsewhere>"}});
  EXPECT_EQ(theirs.decision, "matched");
  EXPECT_EQ(theirs.resolution.method, thread::MatchMethod::kReferences);
  EXPECT_EQ(theirs.resolution.parent, "second@example.com");
  EXPECT_EQ(theirs.resolution.thread_id, out.resolution.thread_id);

  auto messages = store_->ThreadMessages(out.resolution.thread_id);
  ASSERT_TRUE(messages.ok());
  EXPECT_EQ(messages->size(), 4u);
}

TEST_F(ProcessorTest, UnknownParentStartsNewThread) {
  auto d = Send(kOutside, {{"Message-ID", "<lonely@example.org>"},
                           {"In-Reply-To", "<never-seen@example.net>"}});
  EXPECT_EQ(d.decision, "new-thread");
  EXPECT_EQ(d.resolution.method, thread::MatchMethod::kNone);
  auto found = store_->FindMessage("lonely@example.org");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->thread_id, d.resolution.thread_id);
}

TEST_F(ProcessorTest, TooManyReferencesMeansNoReply) {
  Send(kInside, {{"Message-ID", "<root@example.com>"}});
  std::string refs = "<root@example.com>";
  for (int i = 0; i < 100; ++i) refs += " <hop" + std::to_string(i) + "@relay.example>";
  auto d = Send(kOutside, {{"Message-ID", "<loop@example.org>"}, {"References", refs}});
  EXPECT_EQ(d.references, 101u);
  EXPECT_EQ(d.decision, "no-reply");
  EXPECT_EQ(d.reason, "references");
  EXPECT_EQ(d.resolution.method, thread::MatchMethod::kReferences);  // still threaded
  EXPECT_EQ(d.verdict, Verdict::kContinue);                          // and delivered

  std::string hundred = "<root@example.com>";
  for (int i = 0; i < 99; ++i) hundred += " <h" + std::to_string(i) + "@relay.example>";
  auto ok = Send(kOutside, {{"Message-ID", "<fine@example.org>"}, {"References", hundred}});
  EXPECT_EQ(ok.references, 100u);
  EXPECT_EQ(ok.decision, "matched");
}

TEST_F(ProcessorTest, OutboundWithoutMessageIdGetsOne) {
  auto d = Send(kInside, {{"Subject", "no id"}});
  EXPECT_TRUE(d.message_id_added);
  ASSERT_EQ(d.add_headers.size(), 1u);
  EXPECT_EQ(d.add_headers[0].first, "Message-ID");
  EXPECT_NE(d.add_headers[0].second.find("@mx.example.com>"), std::string::npos);
  auto found = store_->FindMessage(d.message_id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(d.decision, "recorded");
}

TEST_F(ProcessorTest, InboundWithoutMessageIdIsNotChanged) {
  auto d = Send(kOutside, {{"Subject", "no id"}});
  EXPECT_FALSE(d.message_id_added);
  EXPECT_TRUE(d.add_headers.empty());
  EXPECT_EQ(d.decision, "new-thread");
  EXPECT_EQ(d.reason, "no-message-id");
}

TEST_F(ProcessorTest, ThreadIndexFallback) {
  // Outlook: the first 22 bytes of Thread-Index identify the conversation.
  const char* root = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODw==";       // 22 bytes
  const char* child = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODwECAwQF";  // 27 bytes
  auto out = Send(kInside, {{"Message-ID", "<ol1@example.com>"}, {"Thread-Index", root}});
  auto in = Send(kOutside, {{"Message-ID", "<ol2@example.org>"}, {"Thread-Index", child}});
  EXPECT_EQ(in.resolution.method, thread::MatchMethod::kThreadIndex);
  EXPECT_EQ(in.resolution.thread_id, out.resolution.thread_id);
  EXPECT_EQ(in.decision, "matched");
}

TEST_F(ProcessorTest, RetryKeepsThread) {
  auto first = Send(kOutside, {{"Message-ID", "<same@example.org>"}});
  auto again = Send(kOutside, {{"Message-ID", "<same@example.org>"}});
  EXPECT_EQ(first.resolution.thread_id, again.resolution.thread_id);
}

TEST_F(ProcessorTest, StoreFailureFollowsPolicy) {
  for (const char* action : {"accept", "tempfail"}) {
    testing::TempDir dir;
    auto config = config::LoadFromString(std::string("[milter]\non_store_error = \"") + action +
                                         "\"\n[store]\npath = \"" + dir.str() + "\"\n");
    store::EnvOptions options;
    options.path = dir.str();
    options.map_size_bytes = 64 << 10;  // tiny map that may not grow: writes fail
    options.max_map_size_bytes = 64 << 10;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok());
    auto store = std::make_shared<store::ThreadStore>(*env);
    Processor processor(config, store);
    Decision last;
    for (int i = 0; i < 2000 && last.decision != "error"; ++i) {
      Envelope envelope;
      envelope.client_addr = kOutside;
      envelope.recipients = {std::string(200, 'r') + "@example.com"};
      MessageHeaders headers(1 << 20);
      headers.Add("Message-ID", "<m" + std::to_string(i) + std::string(300, 'x') + "@e.org>");
      last = processor.Decide(envelope, headers);
    }
    EXPECT_EQ(last.decision, "error") << action;
    EXPECT_EQ(last.reason, "store");
    EXPECT_EQ(last.verdict,
              std::string(action) == "accept" ? Verdict::kContinue : Verdict::kTempfail);
  }
}

TEST_F(ProcessorTest, LogLineHasEveryKey) {
  Envelope envelope;
  auto d = Send(kOutside, {{"Message-ID", "<x@example.org>"}, {"Subject", "hi"}}, &envelope);
  std::string line = d.LogLine(envelope);
  for (const char* key :
       {"direction=inbound", "from=<a@example.org>", "to=<b@example.com>", "msgid=<x@example.org>",
        "refs=0", "thread=T", "match=none", "parent=", "decision=new-thread", "reason="}) {
    EXPECT_NE(line.find(key), std::string::npos) << key << " in " << line;
  }
  EXPECT_EQ(line.rfind(envelope.queue_id + ": ", 0), 0u) << line;
}

}  // namespace
}  // namespace threadmill::filter
