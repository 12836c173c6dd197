// The whole reply path on real LMDB, reinjecting through the fake sendmail script of
// fake_sendmail.h (unit test only; e2e uses Postfix's sendmail).
#include "reply/replier.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <thread>

#include "lib/reply/fake_sendmail.h"
#include "mail/header.h"
#include "reply/gate_marker.h"
#include "reply/sendmail.h"
#include "support/temp_dir.h"
#include "thread/reply_token.h"

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
    f.sender_authenticated = true;
    return f;
  }

  // Claims the reply `reply_id` to in1@example.org (help@example.com answering alice) and
  // leaves it pending, as a crash right after the claim does: its entry in *entry.
  void ClaimPending(const std::string& reply_id, LedgerEntry* entry) {
    entry->reply_id = reply_id;
    entry->state = "pending";
    entry->time = now_;
    entry->handler = "h";
    entry->message = "Message-ID: <" + reply_id + ">\n\nhi\n";
    entry->envelope_sender = "help@example.com";
    entry->recipients = {"alice@example.org"};
    ASSERT_TRUE(ReplyLedger(env_).Claim("in1@example.org", "help@example.com", {}, *entry).ok());
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

TEST_F(ReplierTest, FailureBeforeQueueingResendsSameMessage) {
  // sendmail fails before reading the message: it cannot have queued it, so it is tried
  // again (same message, same Message-ID), and later by the job's retry.
  config_.sendmail_attempts = 2;
  Replier replier = Make();
  fake_.SetEarlyFailure(75);
  auto first = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kTemporary);
  EXPECT_EQ(fake_.Args().size(), 2u);  // two attempts
  EXPECT_TRUE(fake_.Messages().empty());
  auto entry = ReplyLedger(env_).Find("in1@example.org", "help@example.com");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->state, "pending");
  fake_.SetEarlyFailure(0);
  auto second = replier.Reply(Facts(), {"h", "J1", ""}, {"Different text", "", ""});
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, "reply1@example.com");
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_NE(fake_.Messages()[0].find("Hello"), std::string::npos);
}

TEST_F(ReplierTest, Exit75AfterQueueingIsRecognisedNotResent) {
  // sendmail queues the reply, then exits 75: the MTA's echo shows it was queued.
  testing::FakeMta mta(fake_, env_);
  config_.reinject_confirm_seconds = 20;
  Replier replier = Make();
  fake_.SetStatus(75);
  auto sent = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_TRUE(replier.SeenOutbound(*sent));
  auto again = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "already-replied");
  EXPECT_EQ(fake_.Messages().size(), 1u);
  EXPECT_EQ(fake_.Args().size(), 1u);
}

TEST_F(ReplierTest, AmbiguousWithoutEchoIsUncertainAndNeverResent) {
  // Queued then exit 75, but the MTA never shows it (milter bypassed): never a second copy.
  config_.reinject_confirm_seconds = 1;
  Replier replier = Make();
  fake_.SetStatus(75);
  auto first = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kRefused);
  EXPECT_EQ(first.error().message, "reply-uncertain");
  fake_.SetStatus(0);
  auto retry = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.error().message, "reply-uncertain");
  EXPECT_EQ(fake_.Args().size(), 1u);
  auto entry = ReplyLedger(env_).Find("in1@example.org", "help@example.com");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->state, "uncertain");
  // A late echo settles it as sent.
  testing::FakeMta mta(fake_, env_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (mta.echoed() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto settled = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  EXPECT_EQ(fake_.Args().size(), 1u);
}

TEST_F(ReplierTest, OperatorReleasesAnUncertainReply) {
  // What `threadmillctl replies release` does: the operator found it never left.
  config_.reinject_confirm_seconds = 0;
  Replier replier = Make();
  fake_.SetStatus(75);
  ASSERT_EQ(replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""}).error().message,
            "reply-uncertain");
  ReplyLedger ledger(env_);
  auto owed = ledger.ListOwed(10);
  ASSERT_TRUE(owed.ok());
  ASSERT_EQ(owed->size(), 1u);
  EXPECT_EQ((*owed)[0].entry.state, "uncertain");
  EXPECT_EQ((*owed)[0].entry.reply_id, "reply1@example.com");
  LedgerEntry released = (*owed)[0].entry;
  released.state = "pending";
  ASSERT_TRUE(ledger.Update((*owed)[0].ref, released).ok());
  fake_.SetStatus(0);
  auto sent = replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(fake_.Args().size(), 2u);
  EXPECT_EQ(fake_.Messages()[1], fake_.Messages()[0]);  // the very same reply
  EXPECT_TRUE(ledger.ListOwed(10)->empty());
}

TEST_F(ReplierTest, SlowSendmailTellsTheSupervisorAndSendsOnce) {
  // A reinjection slower than the job time-out: the busy hook asks for enough time first.
  std::vector<int64_t> asked;
  hooks_.busy = [&](int64_t seconds) { asked.push_back(seconds); };
  config_.sendmail_timeout_seconds = 30;
  fake_.SetSleep(2);
  auto start = std::chrono::steady_clock::now();
  auto sent = Make().Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(asked.empty());
  EXPECT_GE(asked[0], 30);
  EXPECT_EQ(fake_.Messages().size(), 1u);
}

TEST_F(ReplierTest, SendmailTimeoutAfterReadingIsNotResent) {
  testing::FakeMta mta(fake_, env_);
  config_.sendmail_timeout_seconds = 3;  // reading a small message takes far less, even loaded
  config_.reinject_confirm_seconds = 10;
  fake_.SetSleep(30);
  auto sent = Make().Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(sent.ok()) << sent.error().message;  // killed after queueing: the echo decides
  EXPECT_EQ(fake_.Args().size(), 1u);
}

// The worker (a real forked process) is killed with SIGKILL while its sendmail runs; the
// retry (here, in the test process) must not reinject a second copy.
TEST_F(ReplierTest, WorkerKilledMidSendmailRetryReinjectsOnce) {
  fake_.SetSleep(2);
  config_.reinject_confirm_seconds = 20;
  std::string db = dir_.str() + "/db";
  pid_t worker = fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    store::EnvOptions options;
    options.path = db;
    options.map_size_bytes = size_t{16} << 20;
    auto env = store::Environment::Open(options);
    if (!env.ok()) _exit(2);
    Replier replier(*env, config_, hooks_);
    (void)replier.Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
    _exit(0);
  }
  // Kill the worker once its sendmail has started.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (fake_.Runs().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(fake_.Runs().empty());
  kill(worker, SIGKILL);
  int status = 0;
  waitpid(worker, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto entry = ReplyLedger(env_).Find("in1@example.org", "help@example.com");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->state, "reinjecting");
  EXPECT_GT((*entry)->sendmail_pid, 0);

  testing::FakeMta mta(fake_, env_);  // the MTA passes what was queued back through the milter
  auto retry = Make().Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  // The orphaned sendmail was not killed with its worker: it finishes its run.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (fake_.Runs().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto runs = fake_.Runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].rfind("end ", 0), 0u);
  EXPECT_EQ(fake_.Args().size(), 1u);
  EXPECT_EQ(fake_.Messages().size(), 1u);
}

// A worker (a real forked process) killed with SIGKILL right after the reply's ledger commit
// ("reinjecting", with the gated child's pid and gate marker), before it opens the gate: the
// Busy hook, called between the commit and Run, kills it. Its child sees the gate's EOF and
// exits without exec, leaving the marker. Returns the entry the worker committed.
LedgerEntry KillWorkerAtTheGate(const std::string& db, ReplyConfig config, Hooks hooks,
                                const InboundFacts& facts, std::shared_ptr<store::Environment> env) {
  pid_t worker = fork();
  if (worker == 0) {
    store::EnvOptions options;
    options.path = db;
    options.map_size_bytes = size_t{16} << 20;
    auto opened = store::Environment::Open(options);
    if (!opened.ok()) _exit(2);
    hooks.busy = [](int64_t) { raise(SIGKILL); };
    Replier replier(*opened, config, hooks);
    (void)replier.Reply(facts, {"h", "J1", ""}, {"Hello", "", ""});
    _exit(0);
  }
  int status = 0;
  waitpid(worker, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  auto entry = ReplyLedger(env).Find(facts.message_id, facts.recipient);
  EXPECT_TRUE(entry.ok() && entry->has_value());
  if (!entry.ok() || !entry->has_value()) return {};
  return **entry;
}

TEST_F(ReplierTest, WorkerKilledBeforeTheGateOpensIsSentOnRetry) {
  config_.gate_dir = dir_.str() + "/gates";
  config_.reinject_confirm_seconds = 20;  // the echo is not what decides here: no wait
  LedgerEntry crashed = KillWorkerAtTheGate(dir_.str() + "/db", config_, hooks_, Facts(), env_);
  EXPECT_EQ(crashed.state, "reinjecting");
  EXPECT_GT(crashed.sendmail_pid, 0);
  ASSERT_TRUE(GateMarkers::ValidName(crashed.gate_marker)) << crashed.gate_marker;
  GateMarkers markers(config_.gate_dir);
  EXPECT_EQ(markers.Check(crashed.gate_marker), GateMarkers::State::kPresent);
  EXPECT_TRUE(fake_.Args().empty());
  // The hourly sweep keeps a marker an owed reply names, however old.
  auto swept = SweepGateMarkers(markers, ReplyLedger(env_), time(nullptr) + 86400 * 365);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 0u);

  auto start = std::chrono::steady_clock::now();
  auto retry = Make().Reply(Facts(), {"h", "J2", ""}, {"Hello", "", ""});
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_EQ(*retry, crashed.reply_id);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_NE(fake_.Messages()[0].find("Message-ID: <" + crashed.reply_id + ">"), std::string::npos);
  auto entry = ReplyLedger(env_).Find("in1@example.org", "help@example.com");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->state, "sent");
  EXPECT_EQ((*entry)->gate_marker, "");
  EXPECT_EQ(markers.Check(crashed.gate_marker), GateMarkers::State::kAbsent);
  EXPECT_TRUE(std::filesystem::is_empty(config_.gate_dir));  // the new attempt's went too
  // Answered once: a later delivery of the same message is refused.
  auto again = Make().Reply(Facts(), {"h", "J3", ""}, {"Hello", "", ""});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "already-replied");
  EXPECT_EQ(fake_.Args().size(), 1u);
}

TEST_F(ReplierTest, MarkerGoneAfterACrashMeansSendmailMayHaveRun) {
  // The child removed its marker (it was about to exec, or did): no proof that sendmail did
  // not run, and no echo: parked uncertain, never sent.
  config_.gate_dir = dir_.str() + "/gates";
  config_.reinject_confirm_seconds = 1;
  LedgerEntry crashed = KillWorkerAtTheGate(dir_.str() + "/db", config_, hooks_, Facts(), env_);
  ASSERT_EQ(crashed.state, "reinjecting");
  GateMarkers markers(config_.gate_dir);
  markers.Remove(crashed.gate_marker);
  auto retry = Make().Reply(Facts(), {"h", "J2", ""}, {"Hello", "", ""});
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.error().message, "reply-uncertain");
  EXPECT_TRUE(fake_.Args().empty());
  auto entry = ReplyLedger(env_).Find("in1@example.org", "help@example.com");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->state, "uncertain");
}

TEST_F(ReplierTest, WithoutMarkersACrashAtTheGateIsParked) {
  // Markers off (gate_dir ""): the behaviour before them, the safe side.
  config_.reinject_confirm_seconds = 1;
  LedgerEntry crashed = KillWorkerAtTheGate(dir_.str() + "/db", config_, hooks_, Facts(), env_);
  ASSERT_EQ(crashed.state, "reinjecting");
  EXPECT_EQ(crashed.gate_marker, "");
  auto retry = Make().Reply(Facts(), {"h", "J2", ""}, {"Hello", "", ""});
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.error().message, "reply-uncertain");
  EXPECT_TRUE(fake_.Args().empty());
}

TEST_F(ReplierTest, AnotherHostNeverTrustsTheMarker) {
  // Host mx1 dies at the gate; mx2 takes the stale claim over: the child and the marker are
  // mx1's, so mx2 falls back to the echo (parked uncertain), and the marker, named by no
  // entry any more, is swept on mx1 later.
  config_.gate_dir = dir_.str() + "/gates";
  config_.reinject_confirm_seconds = 1;
  config_.claim_lease_seconds = 300;
  config_.host_id = "mx1";
  LedgerEntry crashed = KillWorkerAtTheGate(dir_.str() + "/db", config_, hooks_, Facts(), env_);
  ASSERT_EQ(crashed.state, "reinjecting");
  EXPECT_EQ(crashed.owner, "mx1");
  config_.host_id = "mx2";
  auto fresh = Make().Reply(Facts(), {"h", "J2", ""}, {"Hello", "", ""});
  ASSERT_FALSE(fresh.ok());
  EXPECT_EQ(fresh.error().message, "other-host");
  now_ += 301;
  auto taken = Make().Reply(Facts(), {"h", "J3", ""}, {"Hello", "", ""});
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().message, "reply-uncertain");
  EXPECT_TRUE(fake_.Args().empty());
  GateMarkers markers(config_.gate_dir);
  EXPECT_EQ(markers.Check(crashed.gate_marker), GateMarkers::State::kPresent);
  auto swept = SweepGateMarkers(markers, ReplyLedger(env_), time(nullptr) + 7200);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 1u);
  EXPECT_EQ(markers.Check(crashed.gate_marker), GateMarkers::State::kAbsent);
}

TEST_F(ReplierTest, GatedChildTheRetryHadToKillIsNotResent) {
  // The gate never opens but its process lives on (a worker hung, not dead): the retry waits
  // sendmail_timeout_seconds, kills the child and cannot trust the marker (the hung worker
  // may still go on with this reply): the echo decides, as before.
  config_.gate_dir = dir_.str() + "/gates";
  config_.sendmail_timeout_seconds = 1;
  config_.reinject_confirm_seconds = 0;
  LedgerEntry entry;
  ASSERT_NO_FATAL_FAILURE(ClaimPending("hung@example.com", &entry));
  GateMarkers markers(config_.gate_dir);
  auto gate = markers.Create();
  ASSERT_TRUE(gate.ok());
  auto held = Reinjection::Prepare({fake_.path()}, entry.envelope_sender, entry.recipients,
                                   entry.message, markers.PathOf(*gate));
  ASSERT_TRUE(held.ok());
  entry.state = "reinjecting";
  entry.sendmail_pid = (*held)->pid();
  entry.sendmail_start = (*held)->start_time();
  entry.gate_marker = *gate;
  entry.reinject_time = now_;
  ASSERT_TRUE(ReplyLedger(env_)
                  .Update(ReplyLedger::ReplyRef("in1@example.org", "help@example.com"), entry)
                  .ok());
  auto retry = Make().Reply(Facts(), {"h", "J2", ""}, {"Hello", "", ""});
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.error().message, "reply-uncertain");
  EXPECT_FALSE(ProcessAlive((*held)->pid(), (*held)->start_time()));
  held->reset();  // reaps the killed child
  EXPECT_TRUE(fake_.Args().empty());
  EXPECT_EQ(markers.Check(*gate), GateMarkers::State::kAbsent);  // dropped with the entry's
}

TEST_F(ReplierTest, InterruptedBeforeSendmailRanSendsOnRetry) {
  // A claim that never reached sendmail (crash right after the claim) is sent by the retry.
  LedgerEntry pending;
  ASSERT_NO_FATAL_FAILURE(ClaimPending("early@example.com", &pending));
  auto sent = Make().Reply(Facts(), {"h", "J1", ""}, {"Hello", "", ""});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(*sent, "early@example.com");
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_EQ(fake_.Messages()[0], pending.message);
}

TEST_F(ReplierTest, SendCapsPerJobAndRatePerHandler) {
  config_.sends_per_job = 2;
  config_.sends_per_hour = 3;
  Replier replier = Make();
  auto send = [&](const char* job, uint32_t index, SendLimits limits = {}) {
    return replier.Send({"sales", job, ""}, "sales@example.com", "", {"bob@example.net"}, "Offer",
                        "Hello", index, limits);
  };
  ASSERT_TRUE(send("J1", 0).ok());
  ASSERT_TRUE(send("J1", 1).ok());
  auto capped = send("J1", 2);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.error().code, ErrorCode::kRefused);
  EXPECT_EQ(capped.error().message, "send-cap-job");
  // A retried job finds its earlier sends: no new token, no new message.
  ASSERT_TRUE(send("J1", 0).ok());
  EXPECT_EQ(fake_.Messages().size(), 2u);
  ASSERT_TRUE(send("J2", 0).ok());  // third token
  auto limited = send("J3", 0);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().message, "send-rate");
  // Outside a job (heartbeat) the bucket applies too.
  EXPECT_EQ(send("", 0).error().message, "send-rate");
  // The bucket refills at sends_per_hour an hour.
  now_ += 1200;
  EXPECT_TRUE(send("J4", 0).ok());
  EXPECT_EQ(send("J5", 0).error().message, "send-rate");
  // A handler's own limits override [reply].
  EXPECT_TRUE(send("J6", 0, SendLimits{0, 5}).ok());
  EXPECT_EQ(send("J6", 5, SendLimits{0, 5}).error().message, "send-cap-job");
  EXPECT_EQ(fake_.Messages().size(), 5u);
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
  config_.policies.handlers["h"].mode = PolicyMode::kVacation;
  Replier replier = Make();
  ASSERT_TRUE(replier.Reply(Facts("a@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
  auto r = replier.Reply(Facts("b@x.org"), {"h", "", ""}, {"x", "", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "rate-sender");
  now_ += 86400;
  EXPECT_TRUE(replier.Reply(Facts("c@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
}

// Issue 10 item 2: the second turn of a conversation is answered under "conversation" (the
// default of every handler but autoreply) and refused under "vacation" (Sieve :days), whether
// the mode comes from the handler, its default or the route.
TEST_F(ReplierTest, SecondTurnByPolicy) {
  config_.policies.handlers["bot"].mode = PolicyMode::kVacation;
  config_.policies.routes[PolicyTable::RouteKey("agent", "desk@example.com")] =
      PolicyMode::kVacation;
  struct {
    const char* name;
    const char* handler;
    const char* route;
    const char* want;  // the second turn's refusal, "" = answered
  } cases[] = {
      {"default agent", "agent", "route:help@example.com", ""},
      {"default autoreply", "autoreply", "route:help@example.com", "rate-sender"},
      {"handler vacation", "bot", "thread-owner", "rate-sender"},
      {"route vacation", "agent", "route:desk@example.com", "rate-sender"},
  };
  int n = 0;
  for (const auto& c : cases) {
    Replier replier = Make();
    std::string thread = "T" + std::to_string(++n);
    for (int turn = 1; turn <= 2; ++turn) {
      InboundFacts f = Facts("turn" + std::to_string(turn) + "." + thread + "@example.org");
      f.thread_id = thread;
      f.route = c.route;
      f.envelope_sender = f.from_address = "alice" + thread + "@example.org";
      now_ += 120;  // a person's pace: no loop guard
      EXPECT_EQ(replier.Predict(f, c.handler, c.route, ""), turn == 1 ? "" : c.want)
          << c.name << " turn " << turn;
      auto r = replier.Reply(f, {c.handler, "", ""}, {"x", "", ""});
      EXPECT_EQ(r.ok() ? "" : r.error().message, turn == 1 ? "" : c.want)
          << c.name << " turn " << turn;
    }
  }
}

// Issue 10 item 3: the prediction at dispatch names every refusal known then.
TEST_F(ReplierTest, PredictNamesTheRefusal) {
  Replier replier = Make();
  struct {
    const char* name;
    std::function<void(InboundFacts&)> change;
    const char* milter_reason;
    const char* want;
  } cases[] = {
      {"allowed", [](InboundFacts&) {}, "", ""},
      {"dmarc none", [](InboundFacts& f) { f.dmarc = "none"; }, "", "dmarc"},
      {"milter verdict", [](InboundFacts& f) { f.sender_authenticated = false; },
       "unauthenticated-sender", "unauthenticated-sender"},
      {"unauthenticated, no verdict", [](InboundFacts& f) { f.sender_authenticated = false; }, "",
       "unauthenticated-sender"},
      {"auto-submitted", [](InboundFacts& f) { f.auto_submitted = "auto-replied"; }, "",
       "auto-submitted"},
      {"references", [](InboundFacts& f) { f.references_count = 101; }, "references", "references"},
  };
  for (const auto& c : cases) {
    InboundFacts f = Facts("p@example.org");
    c.change(f);
    EXPECT_EQ(replier.Predict(f, "autoreply", "", c.milter_reason), c.want) << c.name;
  }
  // The ledger: already replied, and a sender inside the vacation period.
  ASSERT_TRUE(replier.Reply(Facts("p@example.org"), {"autoreply", "", ""}, {"x", "", ""}).ok());
  EXPECT_EQ(replier.Predict(Facts("p@example.org"), "agent", "", ""), "already-replied");
  EXPECT_EQ(replier.Predict(Facts("q@example.org"), "autoreply", "", ""), "rate-sender");
  EXPECT_EQ(replier.Predict(Facts("q@example.org"), "agent", "", ""), "");
  // require_dmarc off: not predicted (nor refused).
  config_.require_dmarc = false;
  InboundFacts none = Facts("r@example.org");
  none.dmarc = "none";
  EXPECT_EQ(Make().Predict(none, "agent", "", ""), "");
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

// ABI 1.1: content over [reply] max_message_bytes is refused "too-large" before anything is
// claimed or sent; a send's log line and result name its new Message-ID.
TEST_F(ReplierTest, TooLargeRefusedAndSendReturnsMessageId) {
  config_.max_message_bytes = 2048;
  Replier replier = Make();
  ReplyContent big{"text", "", ""};
  big.attachments.push_back({"big.bin", "application/octet-stream", std::string(4096, 'x')});
  auto refused = replier.Reply(Facts(), {"h", "J1", ""}, big);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "too-large");
  SendRequest request;
  request.from_address = "bot@example.com";
  request.to = {"carol@example.org"};
  request.subject = "Hello";
  request.content = big;
  auto send_refused = replier.Send({"h", "J1", ""}, request, 0);
  ASSERT_FALSE(send_refused.ok());
  EXPECT_EQ(send_refused.error().message, "too-large");
  EXPECT_TRUE(fake_.Messages().empty());
  request.content.attachments.clear();
  request.cc = {"dave@example.org"};
  auto sent = replier.Send({"h", "J1", ""}, request, 1);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_FALSE(sent->thread_id.empty());
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_NE(fake_.Messages()[0].find("Message-ID: <" + sent->message_id + ">\n"),
            std::string::npos);
  EXPECT_NE(fake_.Messages()[0].find("Cc: <dave@example.org>"), std::string::npos);
  // Retried (same job, same index): the same ids, nothing sent again.
  auto again = replier.Send({"h", "J1", ""}, request, 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->message_id, sent->message_id);
  EXPECT_EQ(again->thread_id, sent->thread_id);
  EXPECT_EQ(fake_.Messages().size(), 1u);
}

TEST_F(ReplierTest, SignedReplyAddress) {
  const std::vector<std::string> keys = {"0123456789abcdef-first-key"};
  store::ThreadStore threads(env_);
  store::MessageRecord in;
  in.msgid = "in1@example.org";
  in.time = now_;
  auto recorded = threads.RecordMessage(in);
  ASSERT_TRUE(recorded.ok());
  const int64_t today = thread::DayOf(now_);
  auto check = [&](const std::string& address) {
    std::string_view token = thread::TokenOfAddress(address);
    return thread::CheckReplyToken(thread::ReplyTokenKeys(keys), token, today);
  };
  config_.token_keys = keys;
  config_.sender_period_seconds = 0;

  config_.reply_token = config::ReplyTokenMode::kReplyTo;  // a reply: Reply-To, From unchanged
  InboundFacts f = Facts();
  f.thread_id = recorded->thread_id;
  ASSERT_TRUE(Make().Reply(f, {"helpdesk", "J1", "Q1"}, {"Thanks!", "", ""}).ok());
  auto split = mail::SplitMessage(fake_.Messages().back());
  EXPECT_EQ(split.headers.Find("From")->value, "<help@example.com>");
  ASSERT_NE(split.headers.Find("Reply-To"), nullptr);
  std::string reply_to = split.headers.Find("Reply-To")->value;
  ASSERT_TRUE(reply_to.starts_with("<help+") && reply_to.ends_with("@example.com>")) << reply_to;
  EXPECT_EQ(check(reply_to).check, thread::TokenCheck::kValid);
  EXPECT_EQ(check(reply_to).thread_id, recorded->thread_id);
  EXPECT_EQ(fake_.Args().back(), "-i -f help@example.com -- alice@example.org");

  config_.reply_token = config::ReplyTokenMode::kFrom;  // a new message: the From carries it
  auto t1 = Make().Send({"sales", "J7", ""}, "sales@example.com", "", {"bob@example.net"}, "Offer",
                        "Hello Bob", 0);
  ASSERT_TRUE(t1.ok()) << t1.error().message;
  split = mail::SplitMessage(fake_.Messages().back());
  EXPECT_EQ(split.headers.Find("Reply-To"), nullptr);
  std::string from = split.headers.Find("From")->value;
  EXPECT_EQ(check(from).check, thread::TokenCheck::kValid) << from;
  EXPECT_EQ(check(from).thread_id, *t1);
  EXPECT_EQ(fake_.Args().back(), "-i -f sales@example.com -- bob@example.net");

  config_.reply_token = config::ReplyTokenMode::kOff;
  ASSERT_TRUE(Make().Reply(Facts("b@x.org"), {"h", "", ""}, {"x", "", ""}).ok());
  split = mail::SplitMessage(fake_.Messages().back());
  EXPECT_EQ(split.headers.Find("Reply-To"), nullptr);
  EXPECT_EQ(split.headers.Find("From")->value, "<help@example.com>");
}

}  // namespace
}  // namespace threadmill::reply
