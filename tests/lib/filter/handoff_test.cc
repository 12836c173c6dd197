// Handoff tests: routes and thread owners become durable jobs in a real LMDB spool, and
// "consume" routes take their recipient out of delivery. (Delivery of the jobs is the
// runtime's, tested in tests/lib/runtime and end to end in tests/e2e/test_handlers.py.)
#include "filter/handoff.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace threadmill::filter {
namespace {

constexpr const char* kRaw = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

class HandoffTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(""); }

  void Make(const std::string& extra) {
    config_ = config::LoadFromString(
        "[store]\npath = \"" + dir_.str() + "\"\n" + extra +
        "[[routes]]\nrecipient = \"help@example.com\"\nhandler = \"helpdesk\"\n"
        "[[routes]]\nrecipient = \"*@sales.example.com\"\nhandler = \"crm\"\naction = "
        "\"consume\"\n");
    store::EnvOptions options;
    options.path = dir_.str();
    options.map_size_bytes = 4 << 20;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok());
    env_ = *env;
    threads_ = std::make_unique<store::ThreadStore>(env_);
    queue_ = std::make_shared<runtime::JobQueue>(env_, dir_.str() + "/spool");
    handoff_ = std::make_unique<Handoff>(runtime::ParseRuntimeConfig(*config_),
                                         config_->milter.on_store_error, queue_, env_);
  }

  Decision Run(std::vector<std::string> recipients, std::string_view raw = kRaw,
               bool complete = true, Verdict verdict = Verdict::kContinue,
               std::string message_id = "m1@example.org") {
    Envelope envelope;
    envelope.mail_from = "a@example.org";
    envelope.recipients = std::move(recipients);
    envelope.queue_id = "Q1";
    Decision d;
    d.verdict = verdict;
    d.direction = store::Direction::kInbound;
    d.outcome = Outcome::kNewThread;
    d.message_id = std::move(message_id);
    d.resolution.thread_id = "T1";
    auth::Verdicts verdicts;
    verdicts.dmarc_checked = verdicts.spf_checked = true;
    verdicts.dmarc.result = auth::DmarcResult::kPass;
    verdicts.spf.result = auth::SpfResult::kPass;
    d.verdicts = verdicts;
    handoff_->Run(envelope, *threads_, raw, complete, &d);
    return d;
  }

  // Our outbound message ours@example.com opened thread T1, which handler helpdesk owns.
  void RecordHelpdeskThread() {
    store::MessageRecord ours;
    ours.msgid = "ours@example.com";
    ours.thread_id = "T1";
    ours.owner = "helpdesk";
    ours.direction = store::Direction::kOutbound;
    ours.time = 1700000000;
    ASSERT_TRUE(threads_->RecordMessage(ours).ok());
    ASSERT_TRUE(threads_->SetThreadOwner("T1", "helpdesk").ok());
  }

  // The decision of an inbound answer `message_id`, matched into `thread_id` by In-Reply-To.
  static Decision Answer(const std::string& message_id, const std::string& thread_id) {
    Decision d;
    d.direction = store::Direction::kInbound;
    d.outcome = Outcome::kMatched;
    d.message_id = message_id;
    d.resolution.thread_id = thread_id;
    d.resolution.method = thread::MatchMethod::kInReplyTo;
    return d;
  }

  std::string Extra(const Decision& d, const std::string& key) {
    for (const auto& [k, v] : d.extra_log) {
      if (k == key) return v;
    }
    return "";
  }

  testing::TempDir dir_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<store::Environment> env_;
  std::unique_ptr<store::ThreadStore> threads_;
  std::shared_ptr<runtime::JobQueue> queue_;
  std::unique_ptr<Handoff> handoff_;
};

TEST_F(HandoffTest, CopyRouteQueuesAndKeepsDelivery) {
  ASSERT_TRUE(handoff_->active());
  Decision d = Run({"help@example.com", "bob@example.com"});
  EXPECT_EQ(d.outcome, Outcome::kQueued);
  EXPECT_EQ(Extra(d, "handler"), "helpdesk");
  EXPECT_TRUE(d.delete_recipients.empty());
  EXPECT_FALSE(d.discard);
  auto jobs = queue_->List(10);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  const runtime::Job& job = jobs->front();
  EXPECT_EQ(job.id, Extra(d, "job"));
  EXPECT_EQ(job.recipient, "help@example.com");
  EXPECT_EQ(job.message_id, "m1@example.org");
  EXPECT_EQ(job.dmarc, "pass");
  auto raw = queue_->ReadMessage(job);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, kRaw);  // spooled byte for byte
}

TEST_F(HandoffTest, ConsumeRemovesOnlyItsRecipient) {
  Decision d = Run({"deals@sales.example.com", "bob@example.com"});
  EXPECT_EQ(d.outcome, Outcome::kQueued);
  EXPECT_EQ(d.delete_recipients, std::vector<std::string>{"deals@sales.example.com"});
  EXPECT_FALSE(d.discard);
}

TEST_F(HandoffTest, ConsumingEveryRecipientDiscards) {
  Decision d = Run({"deals@sales.example.com", "leads@sales.example.com"});
  EXPECT_EQ(d.delete_recipients.size(), 2u);
  EXPECT_TRUE(d.discard);
  EXPECT_EQ(queue_->List(10)->size(), 2u);  // one job per (recipient, handler)
}

TEST_F(HandoffTest, UnroutedMailIsLeftAlone) {
  Decision d = Run({"bob@example.com"});
  EXPECT_EQ(d.outcome, Outcome::kNewThread);
  EXPECT_TRUE(d.extra_log.empty());
  EXPECT_TRUE(queue_->List(10)->empty());
}

TEST_F(HandoffTest, TooLargeMessageIsDeliveredButNotQueued) {
  Decision d = Run({"deals@sales.example.com"}, "", /*complete=*/false);
  EXPECT_EQ(Extra(d, "handoff"), "skipped-too-large");
  EXPECT_TRUE(d.delete_recipients.empty());  // never consumed without a job
  EXPECT_FALSE(d.discard);
  EXPECT_TRUE(queue_->List(10)->empty());
}

TEST_F(HandoffTest, ThreadOwnerGetsRepliesWithoutRoute) {
  Make("[handlers]\nowner_routing = \"thread\"\n");
  ASSERT_NO_FATAL_FAILURE(RecordHelpdeskThread());
  Envelope envelope;
  envelope.mail_from = "a@example.org";
  envelope.recipients = {"alice@example.com"};
  Decision d = Answer("answer@example.org", "T1");
  d.resolution.parent = "ours@example.com";
  handoff_->Run(envelope, *threads_, kRaw, true, &d);
  EXPECT_EQ(d.outcome, Outcome::kQueued);
  EXPECT_EQ(Extra(d, "handler"), "helpdesk");
}

// Issue 13 (speed): the owner the record of this message handed back (Decision::thread_owner)
// routes it; the thread store is not asked again (here it does not even hold the thread).
TEST_F(HandoffTest, OwnerFromTheRecordNeedsNoLookup) {
  Make("[handlers]\nowner_routing = \"thread\"\n");
  Envelope envelope;
  envelope.mail_from = "a@example.org";
  envelope.recipients = {"alice@example.com"};
  Decision d = Answer("answer@example.org", "T-elsewhere");
  d.thread_owner = "helpdesk";
  handoff_->Run(envelope, *threads_, kRaw, true, &d);
  EXPECT_EQ(d.outcome, Outcome::kQueued);
  EXPECT_EQ(Extra(d, "handler"), "helpdesk");
}

// Issue 10 item 4: by default (owner_routing = "own-addresses") mail in a handler's thread
// addressed to a person stays with the person; addressed to the handler's from, it is routed.
TEST_F(HandoffTest, ThreadOwnerGetsOnlyMailToItsOwnAddresses) {
  Make("[handler.helpdesk]\nfrom = \"desk@example.com\"\n");
  ASSERT_NO_FATAL_FAILURE(RecordHelpdeskThread());
  struct {
    std::string rcpt;
    std::string want_handler;
  } cases[] = {{"alice@example.com", ""}, {"desk@example.com", "helpdesk"}};
  int n = 0;
  for (const auto& c : cases) {
    Envelope envelope;
    envelope.mail_from = "a@example.org";
    envelope.recipients = {c.rcpt};
    Decision d = Answer("answer" + std::to_string(++n) + "@example.org", "T1");
    handoff_->Run(envelope, *threads_, kRaw, true, &d);
    EXPECT_EQ(Extra(d, "handler"), c.want_handler) << c.rcpt;
    EXPECT_EQ(Extra(d, "owner_skipped"), c.want_handler.empty() ? "helpdesk" : "") << c.rcpt;
  }
  EXPECT_EQ(queue_->List(10)->size(), 1u);
}

// Issue 13: a message whose threading degraded (store away, on_store_error = accept) still
// goes to the handler its route names; the decision keeps saying unthreaded, reason=store.
TEST_F(HandoffTest, UnthreadedMessageIsStillRouted) {
  Envelope envelope;
  envelope.mail_from = "a@example.org";
  envelope.recipients = {"deals@sales.example.com"};
  envelope.queue_id = "Q2";
  Decision d;
  d.direction = store::Direction::kInbound;
  d.outcome = Outcome::kUnthreaded;
  d.store_failed = true;
  d.reason = "store";
  d.message_id = "m2@example.org";
  d.resolution.thread_id = "T2";
  handoff_->Run(envelope, *threads_, kRaw, true, &d);
  EXPECT_EQ(d.outcome, Outcome::kUnthreaded);
  EXPECT_EQ(d.reason, "store");
  EXPECT_FALSE(Extra(d, "handler").empty());
  EXPECT_FALSE(Extra(d, "job").empty());
  EXPECT_EQ(queue_->List(10)->size(), 1u);
}

TEST_F(HandoffTest, SpoolFailureFollowsOnStoreError) {
  // The spool directory becomes a file: writing the message fails, the policy answers.
  std::filesystem::remove_all(dir_.str() + "/spool");
  std::ofstream(dir_.str() + "/spool") << "not a directory";
  Decision d = Run({"deals@sales.example.com"});
  EXPECT_EQ(d.outcome, Outcome::kError);
  EXPECT_EQ(d.reason, "spool");
  EXPECT_EQ(d.verdict, Verdict::kContinue);  // on_store_error = accept (default)
  EXPECT_TRUE(d.delete_recipients.empty());
  EXPECT_FALSE(d.discard);
}

// A message deferred by a failure (decision=error: on_store_error = tempfail, an internal
// error) is handed to no handler; the MTA brings it again. (Under on_store_error = accept
// the processor makes it kUnthreaded, which is handed off: UnthreadedMessageIsStillRouted.)
TEST_F(HandoffTest, ErrorsHandOffNothing) {
  Envelope envelope;
  envelope.mail_from = "a@example.org";
  envelope.recipients = {"deals@sales.example.com"};
  envelope.queue_id = "Q1";
  for (const char* reason : {"store", "internal"}) {
    Decision d;
    d.direction = store::Direction::kInbound;
    d.outcome = Outcome::kError;
    d.reason = reason;
    d.message_id = std::string("err-") + reason + "@example.org";
    handoff_->Run(envelope, *threads_, kRaw, true, &d);
    EXPECT_EQ(d.outcome, Outcome::kError) << reason;
    EXPECT_EQ(d.reason, reason);
    EXPECT_TRUE(Extra(d, "handler").empty()) << reason;
  }
  auto jobs = queue_->List(10);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty());
}

// Issue 8 item 8: handlers only see what the MTA accepts.
TEST_F(HandoffTest, RefusedMessagesAreNeverSpooled) {
  struct Case {
    Verdict verdict;
    bool quarantine;
    const char* want;
  };
  for (const auto& c : std::vector<Case>{{Verdict::kReject, false, "skipped-reject"},
                                         {Verdict::kTempfail, false, "skipped-tempfail"},
                                         {Verdict::kContinue, true, "skipped-quarantine"}}) {
    Envelope envelope;
    envelope.recipients = {"deals@sales.example.com"};
    Decision d;
    d.verdict = c.verdict;
    if (c.quarantine) d.quarantine = "DMARC policy quarantine";
    d.direction = store::Direction::kInbound;
    d.outcome = Outcome::kNewThread;
    d.message_id = "refused@example.org";
    handoff_->Run(envelope, *threads_, kRaw, true, &d);
    EXPECT_EQ(Extra(d, "handoff"), c.want);
    EXPECT_TRUE(d.delete_recipients.empty());
    EXPECT_FALSE(d.discard);
  }
  EXPECT_TRUE(queue_->List(10)->empty());
  for (const auto& entry : std::filesystem::directory_iterator(dir_.str() + "/spool")) {
    EXPECT_EQ(entry.path().extension(), "") << entry.path();  // only the wake FIFO, if any
  }
}

// Issue 8 item 8: an MTA retry of a message spooled before creates no second job.
TEST_F(HandoffTest, RetriedMessageIsNotSpooledAgain) {
  Decision first = Run({"deals@sales.example.com", "help@example.com"});
  Decision again = Run({"deals@sales.example.com", "help@example.com"});
  EXPECT_EQ(again.outcome, Outcome::kQueued);
  EXPECT_EQ(Extra(again, "dup"), "2");
  EXPECT_EQ(Extra(again, "job"), Extra(first, "job"));
  EXPECT_EQ(again.delete_recipients, std::vector<std::string>{"deals@sales.example.com"});
  EXPECT_EQ(queue_->List(10)->size(), 2u);
  // Another message to the same recipient is a new job.
  Decision other =
      Run({"deals@sales.example.com"}, kRaw, true, Verdict::kContinue, "m2@example.org");
  EXPECT_EQ(Extra(other, "dup"), "");
  EXPECT_EQ(queue_->List(10)->size(), 3u);
}

// Issue 8 item 7: one copy on disk however many jobs; each job's done-removal removes only
// its own name.
TEST_F(HandoffTest, OneSpoolCopyPerMessage) {
  std::string big(3 << 20, 'b');  // spills to a file while it arrives
  std::string raw = std::string(kRaw) + big;
  Decision d = Run({"a@sales.example.com", "b@sales.example.com", "c@sales.example.com"}, raw);
  EXPECT_EQ(d.outcome, Outcome::kQueued);
  auto jobs = queue_->List(10);
  ASSERT_EQ(jobs->size(), 3u);
  struct stat first {};
  ASSERT_EQ(stat((*jobs)[0].file.c_str(), &first), 0);
  EXPECT_EQ(first.st_nlink, 3u);
  for (const auto& job : *jobs) {
    struct stat st {};
    ASSERT_EQ(stat(job.file.c_str(), &st), 0);
    EXPECT_EQ(st.st_ino, first.st_ino);
  }
  EXPECT_LT(queue_->UsedBytes(), 2 * raw.size());
  auto done = queue_->Finish((*jobs)[0].id, runtime::Outcome::kDone, "", 1, {});
  ASSERT_TRUE(done.ok());
  EXPECT_NE(access((*jobs)[0].file.c_str(), F_OK), 0);
  auto read = queue_->ReadMessage((*jobs)[1]);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, raw);
  size_t temporaries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.str() + "/spool")) {
    temporaries += entry.path().extension() == ".tmp";
  }
  EXPECT_EQ(temporaries, 0u);
}

TEST_F(HandoffTest, SpoolQuotaFollowsOnStoreError) {
  for (const char* action : {"accept", "tempfail"}) {
    Make(std::string("[milter]\non_store_error = \"") + action +
         "\"\n[handlers]\nspool_quota_mb = 1\n");
    Decision d = Run({"deals@sales.example.com"}, std::string(2 << 20, 'q'));
    EXPECT_EQ(d.outcome, Outcome::kError) << action;
    EXPECT_EQ(d.reason, "spool-quota") << action;
    EXPECT_EQ(d.verdict, std::string(action) == "accept" ? Verdict::kContinue : Verdict::kTempfail);
    EXPECT_TRUE(d.delete_recipients.empty());
    EXPECT_TRUE(queue_->List(10)->empty());
  }
}

TEST_F(HandoffTest, RoutedRecipientsAreCapped) {
  Make("[handlers]\nmax_routed_recipients = 2\n");
  Decision d = Run({"a@sales.example.com", "b@sales.example.com", "c@sales.example.com"});
  EXPECT_EQ(Extra(d, "routed_cap"), "2");
  EXPECT_EQ(queue_->List(10)->size(), 2u);
  EXPECT_EQ(d.delete_recipients.size(), 2u);  // the third is delivered, never consumed
  EXPECT_FALSE(d.discard);
  EXPECT_TRUE(d.defects.Has(mail::Defect::kTooComplex));
}

}  // namespace
}  // namespace threadmill::filter
