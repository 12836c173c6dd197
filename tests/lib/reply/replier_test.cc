// The whole reply path on real LMDB, reinjecting through the fake sendmail script of
// fake_sendmail.h (unit test only; e2e uses Postfix's sendmail).
#include "reply/replier.h"

#include <gtest/gtest.h>

#include "lib/reply/fake_sendmail.h"
#include "mail/header.h"
#include "support/temp_dir.h"

namespace threadmill::reply {
namespace {

class ReplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::EnvOptions options;
    options.path = dir_.str() + "/db";
    options.map_size_bytes = size_t{16} << 20;
    env_ = *store::Environment::Open(options);
    config_.sendmail = {fake_.path()};
    config_.sendmail_retry_delay_ms = 1;
    hooks_.now = [this] { return now_; };
    hooks_.message_id = [this](std::string_view domain) {
      return "reply" + std::to_string(++ids_) + "@" + std::string(domain);
    };
    hooks_.boundary = [] { return std::string("=_b"); };
  }
  Replier Make() { return Replier(env_, config_, hooks_); }
  InboundFacts Facts(std::string id = "in1@example.org") {
    InboundFacts f;
    f.message_id = id;
    f.references = {"root@example.com"};
    f.references_count = 1;
    f.subject = "Question";
    f.envelope_sender = "alice@example.org";
    f.from_address = "alice@example.org";
    f.recipient = "help@example.com";
    f.dmarc = "pass";
    return f;
  }

  testing::TempDir dir_;
  testing::FakeSendmail fake_{dir_.str()};
  std::shared_ptr<store::Environment> env_;
  ReplyConfig config_;
  Hooks hooks_;
  int64_t now_ = 1751364000;
  int ids_ = 0;
};

TEST_F(ReplierTest, RepliesOnceAndRecordsThread) {
  store::ThreadStore threads(env_);
  store::MessageRecord in;
  in.msgid = "in1@example.org";
  in.time = now_;
  auto recorded = threads.RecordMessage(in);
  ASSERT_TRUE(recorded.ok());
  InboundFacts f = Facts();
  f.thread_id = recorded->thread_id;

  Replier replier = Make();
  auto sent = replier.Reply(f, {"helpdesk", "J1", "Q1"}, {"Thanks!", "", ""});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(*sent, "reply1@example.com");
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_EQ(fake_.Args()[0], "-i -f help@example.com -- alice@example.org");
  auto split = mail::SplitMessage(fake_.Messages()[0]);
  EXPECT_EQ(split.headers.Find("In-Reply-To")->value, "<in1@example.org>");
  EXPECT_EQ(mail::Unfold(split.headers.Find("References")->value),
            "<root@example.com> <in1@example.org>");
  EXPECT_EQ(split.headers.Find("From")->value, "<help@example.com>");
  EXPECT_EQ(split.headers.Find("Auto-Submitted")->value, "auto-replied");

  // The reply is in the thread, owned by the handler.
  auto reply_rec = threads.FindMessage("reply1@example.com");
  ASSERT_TRUE(reply_rec.ok() && reply_rec->has_value());
  EXPECT_EQ((*reply_rec)->thread_id, f.thread_id);
  EXPECT_EQ((*reply_rec)->owner, "helpdesk");
  EXPECT_EQ((*reply_rec)->direction, store::Direction::kOutbound);
  EXPECT_EQ((*threads.FindThread(f.thread_id))->owner, "helpdesk");

  auto twice = replier.Reply(f, {"helpdesk", "J1", "Q1"}, {"Thanks again!", "", ""});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message, "already-replied");
  EXPECT_EQ(fake_.Messages().size(), 1u);
}

TEST_F(ReplierTest, RefusalsSendNothing) {
  Replier replier = Make();
  InboundFacts f = Facts();
  f.dmarc = "fail";
  auto r = replier.Reply(f, {"h", "", ""}, {"x", "", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kRefused);
  EXPECT_EQ(r.error().message, "dmarc");
  f = Facts();
  f.auto_submitted = "auto-replied";
  EXPECT_EQ(replier.Reply(f, {"h", "", ""}, {"x", "", ""}).error().message, "auto-submitted");
  EXPECT_TRUE(fake_.Messages().empty());
}

TEST_F(ReplierTest, FailedReinjectionResendsSameMessage) {
  config_.sendmail_attempts = 2;
  Replier replier = Make();
  fake_.SetStatus(75);
  auto first = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kTemporary);
  EXPECT_EQ(fake_.Messages().size(), 2u);  // two attempts
  fake_.SetStatus(0);
  auto second = replier.Reply(Facts(), {"h", "J1", ""}, {"Different text", "", ""});
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, "reply1@example.com");
  ASSERT_EQ(fake_.Messages().size(), 3u);
  EXPECT_EQ(fake_.Messages()[2], fake_.Messages()[0]);
}

TEST_F(ReplierTest, EnvelopeSenderModes) {
  config_.envelope_sender = EnvelopeSenderMode::kNull;
  ASSERT_TRUE(Make().Reply(Facts("a@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
  config_.envelope_sender = EnvelopeSenderMode::kAddress;
  config_.envelope_sender_address = "bounces@example.com";
  config_.sender_period_seconds = 0;
  ASSERT_TRUE(Make().Reply(Facts("b@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
  auto args = fake_.Args();
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0], "-i -f <> -- alice@example.org");
  EXPECT_EQ(args[1], "-i -f bounces@example.com -- alice@example.org");
}

TEST_F(ReplierTest, SenderRateLimit) {
  Replier replier = Make();
  ASSERT_TRUE(replier.Reply(Facts("a@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
  auto r = replier.Reply(Facts("b@x.org"), {"h", "", ""}, {"x", "", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "rate-sender");
  now_ += 86400;
  EXPECT_TRUE(replier.Reply(Facts("c@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
}

TEST_F(ReplierTest, SendStartsOwnedThreadOncePerJob) {
  Replier replier = Make();
  auto t1 = replier.Send({"sales", "J7", ""}, "sales@example.com", "Sales", {"bob@example.net"},
                         "Offer", "Hello Bob", 0);
  ASSERT_TRUE(t1.ok()) << t1.error().message;
  auto t2 = replier.Send({"sales", "J7", ""}, "sales@example.com", "Sales", {"bob@example.net"},
                         "Offer", "Hello Bob", 0);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(*t1, *t2);
  EXPECT_EQ(fake_.Messages().size(), 1u);
  store::ThreadStore threads(env_);
  auto thread = threads.FindThread(*t1);
  ASSERT_TRUE(thread.ok() && thread->has_value());
  EXPECT_EQ((*thread)->owner, "sales");
  auto split = mail::SplitMessage(fake_.Messages()[0]);
  EXPECT_EQ(split.headers.Find("Auto-Submitted")->value, "auto-generated");
  EXPECT_EQ(split.headers.Find("In-Reply-To"), nullptr);
  EXPECT_FALSE(
      replier.Send({"sales", "", ""}, "not an address", "", {"b@x.org"}, "s", "t", 0).ok());
  EXPECT_FALSE(
      replier.Send({"sales", "", ""}, "s@example.com", "", {"b@x.org\nBcc: c@y.org"}, "s", "t", 0)
          .ok());
}

}  // namespace
}  // namespace threadmill::reply
