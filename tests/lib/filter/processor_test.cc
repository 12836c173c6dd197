// Processor tests against a real LMDB store in a temporary directory.
#include "filter/processor.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include "filter/authentication.h"
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
  EXPECT_EQ(out.outcome, Outcome::kRecorded);
  EXPECT_EQ(out.direction, store::Direction::kOutbound);
  EXPECT_EQ(out.resolution.method, thread::MatchMethod::kNone);
  ASSERT_FALSE(out.resolution.thread_id.empty());

  auto reply = Send(kOutside, {{"Message-ID", "<r1@example.org>"},
                               {"In-Reply-To", "<first@example.com>"},
                               {"References", "<first@example.com>"}});
  EXPECT_EQ(reply.outcome, Outcome::kMatched);
  EXPECT_EQ(reply.resolution.method, thread::MatchMethod::kInReplyTo);
  EXPECT_EQ(reply.resolution.parent, "first@example.com");
  EXPECT_EQ(reply.resolution.thread_id, out.resolution.thread_id);
  // No handlers here: the record is not asked for the thread's owner (routing is).
  EXPECT_FALSE(reply.thread_owner.has_value());

  // Our answer to the reply, then their answer carrying References only: same thread.
  auto ours =
      Send(kInside, {{"Message-ID", "<second@example.com>"}, {"In-Reply-To", "<r1@example.org>"}});
  EXPECT_EQ(ours.outcome, Outcome::kRecorded);
  EXPECT_EQ(ours.resolution.thread_id, out.resolution.thread_id);
  auto theirs = Send(kOutside, {{"Message-ID", "<r2@example.org>"},
                                {"References",
                                 "<first@example.com> <r1@example.org> "
                                 "<second@example.com> <unknown@elsewhere>"}});
  EXPECT_EQ(theirs.outcome, Outcome::kMatched);
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
  EXPECT_EQ(d.outcome, Outcome::kNewThread);
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
  EXPECT_EQ(d.outcome, Outcome::kNoReply);
  EXPECT_EQ(d.reason, "references");
  EXPECT_EQ(d.resolution.method, thread::MatchMethod::kReferences);  // still threaded
  EXPECT_EQ(d.verdict, Verdict::kContinue);                          // and delivered

  std::string hundred = "<root@example.com>";
  for (int i = 0; i < 99; ++i) hundred += " <h" + std::to_string(i) + "@relay.example>";
  auto ok = Send(kOutside, {{"Message-ID", "<fine@example.org>"}, {"References", hundred}});
  EXPECT_EQ(ok.references, 100u);
  EXPECT_EQ(ok.outcome, Outcome::kMatched);
}

// Issue 11: refs= counts References entries as listed: duplicates count, a last id cut by a
// relay does not.
TEST_F(ProcessorTest, ReferencesCountedAsListed) {
  Send(kInside, {{"Message-ID", "<root2@example.com>"}});
  std::string refs = "<root2@example.com>";
  for (int i = 0; i < 100; ++i) refs += " <root2@example.com>";  // 101 entries, one id
  auto d = Send(kOutside, {{"Message-ID", "<dups@example.org>"}, {"References", refs}});
  EXPECT_EQ(d.references, 101u);
  EXPECT_EQ(d.outcome, Outcome::kNoReply);
  EXPECT_EQ(d.reason, "references");

  std::string cut = "<root2@example.com>";
  for (int i = 0; i < 99; ++i) cut += " <h" + std::to_string(i) + "@relay.example>";
  cut += " <cut-in-the-mid";  // 100 complete entries and a fragment
  auto ok = Send(kOutside, {{"Message-ID", "<cut@example.org>"}, {"References", cut}});
  EXPECT_EQ(ok.references, 100u);
  EXPECT_EQ(ok.outcome, Outcome::kMatched);
}

TEST_F(ProcessorTest, OutboundWithoutMessageIdGetsOne) {
  auto d = Send(kInside, {{"Subject", "no id"}});
  EXPECT_TRUE(d.message_id_added);
  ASSERT_EQ(d.add_headers.size(), 1u);
  EXPECT_EQ(d.add_headers[0].first, "Message-ID");
  EXPECT_NE(d.add_headers[0].second.find("@mx.example.com>"), std::string::npos);
  auto found = store_->FindMessage(d.message_id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(d.outcome, Outcome::kRecorded);
}

TEST_F(ProcessorTest, InboundWithoutMessageIdIsNotChanged) {
  auto d = Send(kOutside, {{"Subject", "no id"}});
  EXPECT_FALSE(d.message_id_added);
  EXPECT_TRUE(d.add_headers.empty());
  EXPECT_EQ(d.outcome, Outcome::kNewThread);
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
  EXPECT_EQ(in.outcome, Outcome::kMatched);
}

// Issue 11: the longest known prefix of the conversation names the parent; a root we never
// sent matches nothing by itself; a malformed index is a defect, not a match.
TEST_F(ProcessorTest, ThreadIndexParent) {
  const char* root = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODw==";
  const char* c1 = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODwEBAQEB";                  // root + 1 block
  const char* c2 = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODwEBAQEBAgICAgI=";          // c1 + 1 block
  const char* c3 = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODwEBAQEBAgICAgIDAwMDAw==";  // c2 + 1 block
  const char* s1 = "AQHZ3y6vAAECAwQFBgcICQoLDA0ODwkJCQkJ";                  // root + other block
  auto out = Send(kInside, {{"Message-ID", "<tp1@example.com>"}, {"Thread-Index", root}});
  auto in1 = Send(kOutside, {{"Message-ID", "<tp2@example.org>"}, {"Thread-Index", c1}});
  EXPECT_EQ(in1.resolution.method, thread::MatchMethod::kThreadIndex);
  EXPECT_EQ(in1.resolution.parent, "tp1@example.com");
  auto out2 = Send(kInside, {{"Message-ID", "<tp3@example.com>"}, {"Thread-Index", c2}});
  auto in3 = Send(kOutside, {{"Message-ID", "<tp4@example.org>"}, {"Thread-Index", c3}});
  EXPECT_EQ(in3.resolution.method, thread::MatchMethod::kThreadIndex);
  EXPECT_EQ(in3.resolution.thread_id, out.resolution.thread_id);
  EXPECT_EQ(in3.resolution.parent, "tp3@example.com");
  auto found = store_->FindMessage("tp4@example.org");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->parent, "tp3@example.com");  // threadmillctl thread shows it
  auto sibling = Send(kOutside, {{"Message-ID", "<tp5@example.org>"}, {"Thread-Index", s1}});
  EXPECT_EQ(sibling.resolution.parent, "tp1@example.com");
  std::string line = sibling.LogLine(Envelope{});
  EXPECT_NE(line.find("parent=<tp1@example.com>"), std::string::npos) << line;
}

TEST_F(ProcessorTest, ThreadIndexRootNeverSentDoesNotMatch) {
  const char* other_root = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eQ==";
  const char* other_child = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eQEBAQEB";
  auto first = Send(kOutside, {{"Message-ID", "<nr1@example.org>"}, {"Thread-Index", other_root}});
  auto second =
      Send(kOutside, {{"Message-ID", "<nr2@example.org>"}, {"Thread-Index", other_child}});
  EXPECT_EQ(first.resolution.method, thread::MatchMethod::kNone);
  EXPECT_EQ(second.resolution.method, thread::MatchMethod::kNone);
  EXPECT_NE(second.resolution.thread_id, first.resolution.thread_id);

  Send(kInside,
       {{"Message-ID", "<mf1@example.com>"}, {"Thread-Index", "AQHZ3y6vAAECAwQFBgcICQoLDA0ODw=="}});
  auto bad = Send(kOutside, {{"Message-ID", "<mf2@example.org>"},
                             {"Thread-Index", "AQHZ3y6vAAECAwQFBgcICQoLDA0ODwEB"}});  // 24 bytes
  EXPECT_EQ(bad.resolution.method, thread::MatchMethod::kNone);
  EXPECT_TRUE(bad.defects.Has(mail::Defect::kBadThreadIndex));
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
    for (int i = 0; i < 2000 && last.reason != "store"; ++i) {
      Envelope envelope;
      envelope.client_addr = kOutside;
      envelope.recipients = {std::string(200, 'r') + "@example.com"};
      MessageHeaders headers(1 << 20);
      headers.Add("Message-ID", "<m" + std::to_string(i) + std::string(300, 'x') + "@e.org>");
      last = processor.Decide(envelope, headers);
    }
    const bool accept = std::string(action) == "accept";
    // accept: threading degrades (unthreaded, reason=store), the message goes on.
    EXPECT_EQ(last.outcome, accept ? Outcome::kUnthreaded : Outcome::kError) << action;
    EXPECT_EQ(last.reason, "store");
    EXPECT_EQ(last.store_failed, accept);
    EXPECT_EQ(last.verdict, accept ? Verdict::kContinue : Verdict::kTempfail);
  }
}

// A thread store whose every call fails (a database that is away).
class FailingThreads final : public store::ThreadBackend {
 public:
  mutable int calls = 0;
  Error Down() const {
    ++calls;
    return Error{ErrorCode::kTemporary, "postgresql: unavailable"};
  }
  Result<std::optional<store::MessageRecord>> FindMessage(std::string_view) const override {
    return Down();
  }
  Result<std::optional<store::ThreadRecord>> FindThread(std::string_view) const override {
    return Down();
  }
  Result<std::optional<std::string>> FindThreadByIndex(std::string_view) const override {
    return Down();
  }
  Result<store::MessageRecord> RecordMessage(const store::MessageRecord&, std::string_view,
                                             std::optional<store::ThreadRecord>*) override {
    return Down();
  }
  Result<std::vector<store::MessageRecord>> ThreadMessages(std::string_view,
                                                           size_t) const override {
    return Down();
  }
  Status SetThreadOwner(std::string_view, std::string_view) override { return Down(); }
  Result<store::SweepStats> Sweep(int64_t) override { return Down(); }
};

// Issue 13: a failed thread lookup degrades threading to match=none reason=store under
// on_store_error = accept (nothing is recorded: the store is away), and stays a temporary
// failure under tempfail.
TEST(ProcessorStoreFailureTest, LookupFailureDegradesThreadingToMatchNone) {
  for (const char* action : {"accept", "tempfail"}) {
    testing::TempDir dir;
    auto config = config::LoadFromString(std::string("[milter]\non_store_error = \"") + action +
                                         "\"\n[store]\npath = \"" + dir.str() + "\"\n");
    auto backend = std::make_shared<FailingThreads>();
    Processor processor(config, std::make_shared<store::ThreadStore>(backend));
    Envelope envelope;
    envelope.client_addr = "192.0.2.1";
    envelope.mail_from = "a@example.org";
    envelope.recipients = {"b@example.com"};
    envelope.queue_id = "QSTORE";
    MessageHeaders headers(1 << 20);
    headers.Add("Message-ID", "<down@example.org>");
    headers.Add("In-Reply-To", "<known@example.com>");
    Decision d = processor.Decide(envelope, headers);
    const std::string line = d.LogLine(envelope);
    if (std::string(action) == "accept") {
      EXPECT_EQ(d.outcome, Outcome::kUnthreaded);
      EXPECT_EQ(d.verdict, Verdict::kContinue);
      EXPECT_EQ(d.resolution.method, thread::MatchMethod::kNone);
      EXPECT_FALSE(d.resolution.thread_id.empty());
      EXPECT_EQ(backend->calls, 1) << "no record attempted after a failed lookup";
      for (const char* key : {"match=none", "decision=unthreaded", "reason=store"}) {
        EXPECT_NE(line.find(key), std::string::npos) << key << " in " << line;
      }
    } else {
      EXPECT_EQ(d.outcome, Outcome::kError);
      EXPECT_EQ(d.verdict, Verdict::kTempfail);
      EXPECT_NE(line.find("decision=error reason=store"), std::string::npos) << line;
    }
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

// A store whose map is full: every write fails (issue 8 item 3).
struct FullStore {
  testing::TempDir dir;
  std::shared_ptr<store::ThreadStore> store;
  FullStore() {
    store::EnvOptions options;
    options.path = dir.str();
    options.map_size_bytes = 64 << 10;  // tiny map that may not grow
    options.max_map_size_bytes = 64 << 10;
    auto env = store::Environment::Open(options);
    if (!env.ok()) return;
    store = std::make_shared<store::ThreadStore>(*env);
    for (int i = 0; i < 2000; ++i) {
      store::MessageRecord record;
      record.msgid = "m" + std::to_string(i) + std::string(300, 'x') + "@e.org";
      record.direction = store::Direction::kInbound;
      record.to = {std::string(200, 'r') + "@example.com"};
      if (!store->RecordMessage(record).ok()) return;
    }
  }
};

auth::Verdicts SpoofOfRejectDomain() {
  auth::Verdicts v;
  v.spf_checked = true;
  v.spf.result = auth::SpfResult::kFail;
  v.spf.domain = "reject.example";
  v.dmarc_checked = true;
  v.dmarc.result = auth::DmarcResult::kFail;
  v.dmarc.from_domain = "reject.example";
  v.dmarc.policy_domain = "reject.example";
  v.dmarc.policy = auth::DmarcPolicy::kReject;
  v.dmarc.disposition = auth::DmarcPolicy::kReject;
  return v;
}

TEST(ProcessorStoreFailureTest, AuthenticationNeverDependsOnTheStore) {
  for (const char* action : {"accept", "tempfail"}) {
    FullStore full;
    ASSERT_TRUE(full.store);
    auto config = config::LoadFromString(
        std::string("[milter]\nhostname = \"mx.example.com\"\non_store_error = \"") + action +
        "\"\n[store]\npath = \"" + full.dir.str() + "\"\n[auth]\nenforce_dmarc = true\n");
    Processor processor(config, full.store);
    Envelope envelope;
    envelope.client_addr = kOutside;
    envelope.mail_from = "ceo@reject.example";
    envelope.recipients = {"b@example.com"};
    MessageHeaders headers = processor.NewHeaders();
    headers.Add("Authentication-Results", "mx.example.com; dmarc=pass header.from=reject.example");
    headers.Add("Message-ID", "<spoof" + std::string(400, 'x') + "@reject.example>");
    headers.Add("From", "ceo@reject.example");
    AuthOutcome outcome{SpoofOfRejectDomain()};
    Decision d = processor.Decide(envelope, headers, &outcome);
    EXPECT_EQ(d.verdict, Verdict::kReject) << action;  // enforced whatever the store does
    EXPECT_EQ(d.delete_auth_results, std::vector<int>{1}) << action;
    ASSERT_EQ(d.insert_headers.size(), 1u) << action;
    EXPECT_EQ(d.insert_headers[0].first, "Authentication-Results");
    EXPECT_NE(d.insert_headers[0].second.find("dmarc=fail"), std::string::npos);

    // A message that passes: our A-R and the forged-field removal still happen.
    MessageHeaders good = processor.NewHeaders();
    good.Add("Authentication-Results", "mx.example.com; dmarc=pass");
    good.Add("Message-ID", "<good" + std::string(400, 'y') + "@example.org>");
    AuthOutcome pass;
    pass.verdicts.dmarc_checked = true;
    pass.verdicts.dmarc.result = auth::DmarcResult::kPass;
    Decision ok = processor.Decide(envelope, good, &pass);
    EXPECT_EQ(ok.outcome, std::string(action) == "accept" ? Outcome::kUnthreaded : Outcome::kError);
    EXPECT_EQ(ok.verdict,
              std::string(action) == "accept" ? Verdict::kContinue : Verdict::kTempfail);
    EXPECT_EQ(ok.delete_auth_results, std::vector<int>{1});
    EXPECT_EQ(ok.insert_headers.size(), 1u);
  }
}

// A refused message (here a p=reject spoof under enforce_dmarc) is not recorded: its
// Message-ID never joins a thread, so a later message cannot be matched to it.
TEST_F(ProcessorTest, RefusedMessagesAreNotRecorded) {
  Open("[auth]\nenforce_dmarc = true\n");
  Envelope envelope;
  envelope.client_addr = kOutside;
  envelope.mail_from = "ceo@reject.example";
  envelope.recipients = {"b@example.com"};
  MessageHeaders headers = processor_->NewHeaders();
  headers.Add("Message-ID", "<spoof1@reject.example>");
  headers.Add("From", "ceo@reject.example");
  AuthOutcome spoof{SpoofOfRejectDomain()};
  Decision d = processor_->Decide(envelope, headers, &spoof);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  auto found = store_->FindMessage("spoof1@reject.example");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());

  MessageHeaders passing = processor_->NewHeaders();
  passing.Add("Message-ID", "<fine1@example.org>");
  AuthOutcome pass;
  pass.verdicts.dmarc_checked = true;
  pass.verdicts.dmarc.result = auth::DmarcResult::kPass;
  EXPECT_EQ(processor_->Decide(envelope, passing, &pass).verdict, Verdict::kContinue);
  found = store_->FindMessage("fine1@example.org");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
}

TEST_F(ProcessorTest, ForgedAuthResultsRemovedOnOutboundMail) {
  MessageHeaders headers = processor_->NewHeaders();
  headers.Add("Message-ID", "<out1@example.com>");
  headers.Add("Authentication-Results", "other.example; spf=pass");
  headers.Add("Authentication-Results", "mx.example.com; dmarc=pass header.from=bank.example");
  Envelope envelope;
  envelope.client_addr = kInside;  // outbound: not authenticated, still cleaned
  envelope.mail_from = "user@example.com";
  envelope.recipients = {"colleague@example.com"};
  Decision d = processor_->Decide(envelope, headers);
  EXPECT_EQ(d.direction, store::Direction::kOutbound);
  EXPECT_EQ(d.outcome, Outcome::kRecorded);
  EXPECT_EQ(d.delete_auth_results, std::vector<int>{2});
  EXPECT_TRUE(d.insert_headers.empty());  // no verdicts, no A-R of ours
}

struct ForgedCapCase {
  int forged;
  const char* extra;
  Verdict want;
  size_t deletions;
};

TEST_F(ProcessorTest, TooManyForgedAuthResultsAreRefusedNotDeleted) {
  for (const auto& c : std::vector<ForgedCapCase>{
           {32, "", Verdict::kContinue, 32},
           {33, "", Verdict::kReject, 0},
           {16000, "", Verdict::kReject, 0},
           {5, "[auth]\nmax_forged_deletions = 4\non_too_many_forged = \"tempfail\"\n",
            Verdict::kTempfail, 0},
           {5, "[auth]\nremove_forged_headers = false\n", Verdict::kContinue, 0},
       }) {
    Open(c.extra);
    MessageHeaders headers = processor_->NewHeaders();
    headers.Add("Message-ID", "<forged" + std::to_string(c.forged) + "@example.org>");
    for (int i = 0; i < c.forged; ++i) {
      headers.Add("Authentication-Results", "mx.example.com; dmarc=pass");
    }
    Envelope envelope;
    envelope.client_addr = kOutside;
    envelope.mail_from = "a@example.org";
    envelope.recipients = {"b@example.com"};
    Decision d = processor_->Decide(envelope, headers);
    EXPECT_EQ(d.verdict, c.want) << c.forged << " " << c.extra;
    EXPECT_EQ(d.delete_auth_results.size(), c.deletions) << c.forged << " " << c.extra;
    if (c.want == Verdict::kReject) {
      EXPECT_EQ(d.smtp_reply.code, "550");
    }
  }
}

TEST(AuthResultsCapTest, IgnoredSignaturesCannotGrowOurHeader) {
  auth::Verdicts v = SpoofOfRejectDomain();
  for (int i = 0; i < 5000; ++i) {
    auth::DkimSignatureResult sig;
    sig.result = auth::DkimResult::kPolicy;
    sig.domain = std::string(300, 'd') + std::to_string(i) + ".example";
    sig.selector = "s";
    sig.algorithm = "rsa-sha256";
    v.dkim.push_back(sig);
  }
  auto config = config::LoadFromString("[milter]\nhostname = \"mx.example.com\"\n");
  Decision d;
  ApplyVerdicts(*config, v, &d);
  ASSERT_EQ(d.insert_headers.size(), 1u);
  const std::string& ar = d.insert_headers[0].second;
  EXPECT_LT(ar.size(), 8000u);
  EXPECT_NE(ar.find("dmarc=fail"), std::string::npos);  // the verdict that matters is kept
  bool logged = false;
  for (const auto& [k, val] : d.extra_log) logged |= k == "dkim_unlisted" && val == "4995";
  EXPECT_TRUE(logged);
}

// A DKIM-Signature kept from libopendkim as hostile (auth/dkim.h) is named on the decision
// line with its reason; other permerrors are not.
TEST(AuthResultsCapTest, WithheldSignaturesAreLogged) {
  auth::Verdicts v;
  auth::DkimSignatureResult sig;
  sig.result = auth::DkimResult::kPermError;
  sig.domain = "example.org";
  sig.reason = "DKIM-Signature h= names every header field, then more";
  sig.withheld = true;
  v.dkim.push_back(sig);
  sig.domain = "example.net";
  sig.reason = "no key";
  sig.withheld = false;
  v.dkim.push_back(sig);
  auto config = config::LoadFromString("[milter]\nhostname = \"mx.example.com\"\n");
  Decision d;
  ApplyVerdicts(*config, v, &d);
  std::string logged;
  for (const auto& [k, val] : d.extra_log)
    if (k == "dkim_withheld") logged = val;
  EXPECT_EQ(logged, "example.org: DKIM-Signature h= names every header field, then more");
  v.dkim.pop_back();
  v.dkim.back().withheld = false;
  Decision quiet;
  ApplyVerdicts(*config, v, &quiet);
  for (const auto& [k, val] : quiet.extra_log) EXPECT_NE(k, "dkim_withheld");
}

}  // namespace
}  // namespace threadmill::filter
