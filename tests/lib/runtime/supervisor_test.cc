// The supervisor with real worker processes and real fixture modules: replies, kv, drafts,
// sends, heartbeats, crashes, hangs, leaks, retries, parking, recovery and reload.
// Replies are reinjected through the fake sendmail script (unit tests only; e2e uses
// Postfix's own sendmail).
#include "runtime/supervisor.h"
#include "runtime/worker_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "lib/reply/fake_sendmail.h"
#include "lib/runtime/runtime_test_util.h"
#include "mail/header.h"
#include "runtime/drafts.h"
#include "runtime/handler_status.h"
#include "runtime/job_queue.h"
#include "runtime/runtime_config.h"
#include "store/kv_store.h"
#include "store/thread_store.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

bool WaitFor(const std::function<bool()>& cond, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "module ownership checks need root";
    handlers_ = dir_.str() + "/handlers";
    std::filesystem::create_directories(handlers_);
    chmod(handlers_.c_str(), 0755);
    testing::InstallFixture(handlers_, "good");
    testing::InstallFixture(handlers_, "crash");
    testing::InstallFixture(handlers_, "hang");
    testing::InstallFixture(handlers_, "leak");
  }
  void TearDown() override {
    queue_.reset();
    env_.reset();
    if (handle_.pid > 0) StopSupervisor(&handle_, 10);
  }
  void Start(const std::string& extra = "") {
    config_path_ = dir_.str() + "/threadmill.conf";
    // user "": the tests run the handlers as root on purpose (a missing user refuses).
    std::ofstream(config_path_) << "[milter]\nuser = \"\"\n"
                                << "[store]\npath = \"" << dir_.str() << "/db\"\n"
                                << "[log]\ntarget = \"stderr\"\nlevel = \"info\"\n"
                                << "[handlers]\ndir = \"" << handlers_ << "\"\n"
                                << handlers_extra_ << "[runtime]\nworkers = 2\n"
                                << "job_timeout_seconds = " << job_timeout_ << "\n"
                                << runtime_extra_ << "max_attempts = 2\nretry_initial_seconds = 0\n"
                                << "retry_max_seconds = 0\npoll_interval_ms = 50\n"
                                << "recycle_after_jobs = " << recycle_after_ << "\n"
                                << "[reply]\nrequire_dmarc = false\nsendmail = [\"" << fake_.path()
                                << "\"]\nsendmail_retry_delay_ms = 1\n"
                                << "sender_period_seconds = 0\n"
                                << "[handler.testgood]\ngreeting = \"Howdy\"\n"
                                << "send_to = \"bob@example.net\"\nfrom = \"bot@example.com\"\n"
                                << "heartbeat_seconds = 1\n"
                                << extra;
    auto config = config::Load(config_path_);
    auto handle = StartSupervisor(config_path_, config);
    ASSERT_TRUE(handle.ok()) << handle.error().message;
    handle_ = std::move(*handle);
    // Open the store only after the fork (PLATFORM_NOTES).
    env_ = testing::OpenTestEnv(dir_.str() + "/db");
    queue_ = std::make_unique<JobQueue>(env_, dir_.str() + "/db/spool");
  }
  std::string Enqueue(const std::string& handler, const std::string& msgid,
                      const std::string& subject, const std::string& extra_headers = "") {
    raw_ = testing::Message(msgid, subject, extra_headers);
    JobInput in;
    in.handler = handler;
    in.recipient = "help@example.com";
    in.mail_from = "alice@example.org";
    in.queue_id = "Q" + msgid.substr(0, 4);
    in.message_id = msgid;
    in.thread_id = thread_id_;
    in.references_count = 1;
    in.dmarc = "pass";
    in.sender_authenticated = true;
    in.raw_message = raw_;
    auto id = queue_->Enqueue(in);
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : "";
  }
  Job JobOf(const std::string& id) { return **queue_->Get(id); }
  // USR1, then waits until the supervisor has reloaded (it rewrites handlers.loaded by
  // renaming a new file into place).
  void Reload() {
    std::string path = LoadedHandlersPath(dir_.str() + "/db/spool");
    struct stat before {};
    ASSERT_EQ(stat(path.c_str(), &before), 0);
    ForwardSignal(handle_, SIGUSR1);
    ASSERT_TRUE(WaitFor([&] {
      struct stat now {};
      return stat(path.c_str(), &now) == 0 && now.st_ino != before.st_ino;
    }));
  }
  bool Is(const std::string& id, JobState state) {
    auto j = queue_->Get(id);
    return j.ok() && j->has_value() && (*j)->state == state;
  }
  std::string Kv(const std::string& handler, const std::string& key) {
    store::KvStore kv(env_);
    auto v = kv.Get(handler, key);
    return v.ok() && v->has_value() ? **v : "";
  }

  std::string handlers_extra_;  // more [handlers] keys
  std::string runtime_extra_;   // more [runtime] keys
  int job_timeout_ = 2;
  int recycle_after_ = 2;
  testing::TempDir dir_;
  testing::FakeSendmail fake_{dir_.str()};
  std::string handlers_;
  std::string config_path_;
  SupervisorHandle handle_;
  std::shared_ptr<store::Environment> env_;
  std::unique_ptr<JobQueue> queue_;
  std::string raw_;
  std::string thread_id_ = "T0000000000000000000A";
};

TEST_F(SupervisorTest, ReplyOnceKvAndEnvelope) {
  Start();
  store::ThreadStore threads(env_);
  store::MessageRecord in;
  in.msgid = "m1@example.org";
  in.time = 1;
  thread_id_ = threads.RecordMessage(in)->thread_id;
  std::string a = Enqueue("testgood", "m1@example.org", "Help [reply]");
  ASSERT_TRUE(WaitFor([&] { return Is(a, JobState::kDone); })) << JobOf(a).last_error;
  EXPECT_EQ(Kv("testgood", "reply:<m1@example.org>"), "0 ");
  std::string env = Kv("testgood", "env:<m1@example.org>");
  EXPECT_NE(env.find("sender=alice@example.org"), std::string::npos) << env;
  EXPECT_NE(env.find("reply_text=Hello there."), std::string::npos) << env;
  EXPECT_NE(env.find("thread=" + thread_id_), std::string::npos) << env;
  ASSERT_EQ(fake_.Messages().size(), 1u);
  auto split = mail::SplitMessage(fake_.Messages()[0]);
  EXPECT_EQ(split.headers.Find("In-Reply-To")->value, "<m1@example.org>");
  EXPECT_EQ(split.headers.Find("Subject")->value, "Re: Help [reply]");
  EXPECT_EQ(split.headers.Find("From")->value, "<help@example.com>");
  EXPECT_EQ(fake_.Args()[0], "-i -f help@example.com -- alice@example.org");
  EXPECT_EQ((*threads.FindThread(thread_id_))->owner, "testgood");

  // The same message delivered again: the job runs, the reply is refused.
  std::string b = Enqueue("testgood", "m1@example.org", "Help [reply]");
  ASSERT_TRUE(WaitFor([&] { return Is(b, JobState::kDone); }));
  EXPECT_EQ(Kv("testgood", "reply:<m1@example.org>"), "1 already-replied");
  EXPECT_EQ(fake_.Messages().size(), 1u);
}

TEST_F(SupervisorTest, CrashingHandlerRetriedThenParked) {
  Start();
  std::string id = Enqueue("crasher", "c1@example.org", "boom");
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kParked); }));
  Job job = JobOf(id);
  EXPECT_EQ(job.attempts, 2u);
  EXPECT_NE(job.last_error.find("signal 11"), std::string::npos) << job.last_error;
  EXPECT_EQ(Kv("crasher", "attempt:<c1@example.org>:1"), "1");
  EXPECT_EQ(Kv("crasher", "attempt:<c1@example.org>:2"), "2");
  // Other handlers keep working.
  std::string ok = Enqueue("testgood", "c2@example.org", "fine");
  EXPECT_TRUE(WaitFor([&] { return Is(ok, JobState::kDone); }));
}

TEST_F(SupervisorTest, HangingHandlerKilledAtTimeoutThenParked) {
  Start();
  auto start = std::chrono::steady_clock::now();
  std::string id = Enqueue("hanger", "h1@example.org", "zzz");
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kParked); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  Job job = JobOf(id);
  EXPECT_EQ(job.attempts, 2u);
  EXPECT_NE(job.last_error.find("timeout"), std::string::npos) << job.last_error;
}

TEST_F(SupervisorTest, RetryAndFailOutcomes) {
  Start();
  std::string r = Enqueue("testgood", "r1@example.org", "[retry]");
  std::string f = Enqueue("testgood", "f1@example.org", "[fail]");
  ASSERT_TRUE(WaitFor([&] { return Is(r, JobState::kParked) && Is(f, JobState::kParked); }));
  EXPECT_EQ(JobOf(r).attempts, 2u);
  EXPECT_EQ(JobOf(r).last_error, "handler-retry");
  EXPECT_EQ(JobOf(f).attempts, 1u);
  EXPECT_EQ(JobOf(f).last_error, "handler-fail");
  // An operator retry runs it again.
  ASSERT_TRUE(queue_->Retry(f, 0).ok());
  ASSERT_TRUE(WaitFor([&] {
    return JobOf(f).state == JobState::kParked && JobOf(f).attempts == 1 &&
           Kv("testgood", "seen:<f1@example.org>") == "1";
  }));
}

TEST_F(SupervisorTest, LeakingWorkersAreRecycled) {
  Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(Enqueue("leaker", "l" + std::to_string(i) + "@example.org", "leak"));
  }
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& id : ids) {
      if (!Is(id, JobState::kDone)) return false;
    }
    return true;
  }));
  std::set<std::string> pids;
  for (int i = 0; i < 6; ++i)
    pids.insert(Kv("leaker", "pid:<l" + std::to_string(i) + "@example.org>"));
  EXPECT_GE(pids.size(), 3u);  // at most 2 jobs per worker
}

// [handlers] worker_memory_mb: a worker past 3/4 of it after a job is replaced; a job that
// needs more than the limit sees its allocation fail (the fixture then aborts, as a leaky
// handler crashes), is retried on a fresh worker and parked; other jobs are not affected.
TEST_F(SupervisorTest, MemoryLimitRecyclesWorkersAndStopsAHog) {
  if (WorkerMemoryLimitBytes(64) == 0) GTEST_SKIP() << "no worker memory limit in sanitizer builds";
  handlers_extra_ = "worker_memory_mb = 64\n";
  recycle_after_ = 1000;  // only memory recycles workers here
  Start();
  std::string hog = Enqueue("leaker", "hog@example.org", "200");
  std::vector<std::string> ids;
  const int n = 16;
  for (int i = 0; i < n; ++i) {
    ids.push_back(Enqueue("leaker", "m" + std::to_string(i) + "@example.org", "leak"));
  }
  std::string good = Enqueue("testgood", "fine@example.org", "hello");
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& id : ids) {
      if (!Is(id, JobState::kDone)) return false;
    }
    return Is(hog, JobState::kParked) && Is(good, JobState::kDone);
  }));
  Job parked = JobOf(hog);
  EXPECT_EQ(parked.attempts, 2u);  // retried once on a fresh worker
  EXPECT_NE(parked.last_error.find("signal 6"), std::string::npos) << parked.last_error;
  std::map<std::string, int> jobs_per_pid;
  for (int i = 0; i < n; ++i) {
    jobs_per_pid[Kv("leaker", "pid:<m" + std::to_string(i) + "@example.org>")] += 1;
  }
  // 2 workers cannot run 16 leaking jobs without being replaced; none ran more than the
  // 48 MiB recycle threshold allows at 8 MiB per job.
  EXPECT_GE(jobs_per_pid.size(), 3u);
  for (const auto& [pid, count] : jobs_per_pid) EXPECT_LE(count, 6) << "worker " << pid;
}

// done_retention_seconds: finished jobs leave the spool about that long after they finished.
TEST_F(SupervisorTest, DoneJobsSweptOnTime) {
  runtime_extra_ = "done_retention_seconds = 1\n";
  Start();
  std::string id = Enqueue("testgood", "sweep@example.org", "hello");
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kDone); }));
  ASSERT_TRUE(WaitFor([&] { return !queue_->Get(id)->has_value(); }, 10));
}

// TERM: a job still running after stop_timeout_seconds is killed and queued again, never
// left running; the supervisor exits within the bound.
TEST_F(SupervisorTest, StopRequeuesWhatItHadToKill) {
  job_timeout_ = 60;
  runtime_extra_ = "stop_timeout_seconds = 1\n";
  Start();
  std::string id = Enqueue("hanger", "h9@example.org", "hang");
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kRunning); }));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(StopSupervisor(&handle_, 10), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  Job job = JobOf(id);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.last_error, "interrupted");
}

TEST_F(SupervisorTest, HeartbeatSendAndDraft) {
  Start();
  ASSERT_TRUE(WaitFor([&] { return !Kv("testgood", "heartbeat").empty(); }, 10));
  std::string s = Enqueue("testgood", "s1@example.org", "[send] [draft]");
  ASSERT_TRUE(WaitFor([&] { return Is(s, JobState::kDone); }));
  std::string sent = Kv("testgood", "send:<s1@example.org>");
  ASSERT_EQ(sent.rfind("0 T", 0), 0u) << sent;
  store::ThreadStore threads(env_);
  EXPECT_EQ((*threads.FindThread(sent.substr(2)))->owner, "testgood");
  ASSERT_EQ(fake_.Messages().size(), 1u);
  EXPECT_EQ(fake_.Args()[0], "-i -f bot@example.com -- bob@example.net");

  std::string draft = Kv("testgood", "draft:<s1@example.org>");
  ASSERT_EQ(draft.rfind("0 D", 0), 0u) << draft;
  DraftStore drafts(env_);
  auto d = drafts.Get(draft.substr(2));
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->state, "draft_for_approval");
  auto config = config::Load(config_path_);
  reply::ReplyConfig rc = ParseRuntimeConfig(*config).reply;
  reply::Replier replier(env_, rc);
  auto approved = drafts.Approve(draft.substr(2), replier);
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  ASSERT_EQ(fake_.Messages().size(), 2u);
  auto split = mail::SplitMessage(fake_.Messages()[1]);
  EXPECT_EQ(split.headers.Find("In-Reply-To")->value, "<s1@example.org>");
  EXPECT_EQ((*drafts.Get(draft.substr(2)))->state, "sent");
  EXPECT_FALSE(drafts.Approve(draft.substr(2), replier).ok());
}

TEST_F(SupervisorTest, RunningJobRecoveredAfterKill) {
  // A job claimed by a supervisor that was then killed (-9) stays "running" in the store.
  {
    auto env = testing::OpenTestEnv(dir_.str() + "/db");
    JobQueue queue(env, dir_.str() + "/db/spool");
    std::string raw = testing::Message("k1@example.org", "[reply]");
    JobInput in;
    in.handler = "testgood";
    in.recipient = "help@example.com";
    in.mail_from = "alice@example.org";
    in.message_id = "k1@example.org";
    in.sender_authenticated = true;
    in.raw_message = raw;
    ASSERT_TRUE(queue.Enqueue(in).ok());
    ASSERT_EQ(queue.ClaimDue(4102444800, 1, nullptr)->size(), 1u);
  }
  Start();
  auto jobs = queue_->List(10);
  ASSERT_EQ(jobs->size(), 1u);
  std::string id = (*jobs)[0].id;
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kDone); }));
  EXPECT_EQ(JobOf(id).attempts, 2u);
  EXPECT_EQ(fake_.Messages().size(), 1u);
}

// A reinjection slower than job_timeout_seconds (2 s here): the worker reports "K" before
// sendmail runs and the supervisor extends the deadline instead of killing it mid-sendmail
// (killing it gave one copy per attempt, issue 14).
TEST_F(SupervisorTest, SlowReinjectionIsNotKilledByTheJobTimeout) {
  fake_.SetSleep(4);
  Start();
  std::string id = Enqueue("testgood", "slow@example.org", "Slow [reply]");
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kDone) || Is(id, JobState::kParked); }));
  EXPECT_TRUE(Is(id, JobState::kDone)) << JobOf(id).last_error;
  EXPECT_EQ(JobOf(id).attempts, 1u);
  EXPECT_EQ(fake_.Messages().size(), 1u);
  EXPECT_EQ(Kv("testgood", "reply:<slow@example.org>"), "0 ");
}

TEST_F(SupervisorTest, ReloadPicksUpNewModules) {
  Start();
  std::string id = Enqueue("testcpp", "p1@example.org", "cpp");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Is(id, JobState::kQueued));  // not loaded: waits
  testing::InstallFixture(handlers_, "cpp");
  ForwardSignal(handle_, SIGUSR1);
  ASSERT_TRUE(WaitFor([&] { return Is(id, JobState::kDone); })) << JobOf(id).last_error;
  EXPECT_EQ(Kv("testcpp", "count"), "1");
  EXPECT_EQ(Kv("testcpp", "reply:<p1@example.org>"), "0 ");
  // An exception in a C++ handler never crosses the ABI: the job is retried, then parked.
  std::string t = Enqueue("testcpp", "p2@example.org", "[throw]");
  ASSERT_TRUE(WaitFor([&] { return Is(t, JobState::kParked); }));
  EXPECT_EQ(JobOf(t).last_error, "handler-retry");
}

// USR1 loads a module replaced at the same path (a new file renamed over it, the file
// rewritten in place) and a link moved to another target: the next job runs the new code;
// the supervisor itself never mapped the old one.
TEST_F(SupervisorTest, ReloadRunsReplacedModuleCode) {
  testing::InstallFixture(handlers_, "version1", "versioned.so");
  Start();
  auto version_after = [&](const std::string& msgid) {
    std::string id = Enqueue("versioned", msgid, "which version?");
    EXPECT_TRUE(WaitFor([&] { return Is(id, JobState::kDone); })) << JobOf(id).last_error;
    return Kv("versioned", "version:<" + msgid + ">");
  };
  EXPECT_EQ(version_after("v1@example.org"), "1");
  // A new file renamed into place (what install(1) and package managers do).
  testing::InstallFixture(handlers_, "version2", ".versioned.new");
  ASSERT_EQ(rename((handlers_ + "/.versioned.new").c_str(), (handlers_ + "/versioned.so").c_str()),
            0);
  Reload();
  EXPECT_EQ(version_after("v2@example.org"), "2");
  // Rewritten in place (same inode, new size and mtime).
  testing::InstallFixture(handlers_, "version1", "versioned.so");
  Reload();
  EXPECT_EQ(version_after("v2b@example.org"), "1");
  // A link whose target changes (how a packaged handler is enabled).
  std::string store = dir_.str() + "/modules";
  std::filesystem::create_directories(store);
  chmod(store.c_str(), 0755);
  testing::InstallFixture(store, "version1", "v1.so");
  testing::InstallFixture(store, "version2", "v2.so");
  ASSERT_EQ(unlink((handlers_ + "/versioned.so").c_str()), 0);
  ASSERT_EQ(symlink((store + "/v1.so").c_str(), (handlers_ + "/versioned.so").c_str()), 0);
  Reload();
  EXPECT_EQ(version_after("v3@example.org"), "1");
  ASSERT_EQ(symlink((store + "/v2.so").c_str(), (handlers_ + "/.versioned.link").c_str()), 0);
  ASSERT_EQ(rename((handlers_ + "/.versioned.link").c_str(), (handlers_ + "/versioned.so").c_str()),
            0);
  Reload();
  EXPECT_EQ(version_after("v4@example.org"), "2");
}

// A reload replaces only the changed handler's workers, and a job running on the old code
// then finishes there, recorded once (not killed, not run twice).
TEST_F(SupervisorTest, ReloadReplacesOnlyChangedHandlersGracefully) {
  fake_.SetSleep(2);  // the versioned job is still reinjecting when the reload comes
  job_timeout_ = 30;
  testing::InstallFixture(handlers_, "version1", "versioned.so");
  Start("[handler.leaker]\nworkers = 1\nrecycle_after_jobs = 100\n");
  std::string l1 = Enqueue("leaker", "l1@example.org", "leak");
  ASSERT_TRUE(WaitFor([&] { return Is(l1, JobState::kDone); }));
  std::string pid = Kv("leaker", "pid:<l1@example.org>");
  ASSERT_FALSE(pid.empty());

  std::string slow = Enqueue("versioned", "slow1@example.org", "slow");
  ASSERT_TRUE(WaitFor([&] { return Kv("versioned", "version:<slow1@example.org>") == "1"; }));
  ASSERT_TRUE(Is(slow, JobState::kRunning));
  testing::InstallFixture(handlers_, "version2", ".versioned.new");
  ASSERT_EQ(rename((handlers_ + "/.versioned.new").c_str(), (handlers_ + "/versioned.so").c_str()),
            0);
  Reload();
  ASSERT_TRUE(WaitFor([&] { return !Is(slow, JobState::kRunning); }));
  EXPECT_TRUE(Is(slow, JobState::kDone)) << JobOf(slow).last_error;
  EXPECT_EQ(JobOf(slow).attempts, 1u);
  EXPECT_EQ(fake_.Messages().size(), 1u);

  std::string next = Enqueue("versioned", "next@example.org", "next");
  ASSERT_TRUE(WaitFor([&] { return Is(next, JobState::kDone); }));
  EXPECT_EQ(Kv("versioned", "version:<next@example.org>"), "2");
  // The leaker's worker was not touched by the reload.
  std::string l2 = Enqueue("leaker", "l2@example.org", "leak");
  ASSERT_TRUE(WaitFor([&] { return Is(l2, JobState::kDone); }));
  EXPECT_EQ(Kv("leaker", "pid:<l2@example.org>"), pid);
}

// Each handler has its own workers: hung jobs of one handler (longer than the test) never
// hold back another handler's job. No wall-clock bound (a busy machine may take seconds to
// start a worker): the other job must finish while the hung one still runs, which it does
// until its 60 s time-out.
TEST_F(SupervisorTest, HungHandlerDoesNotDelayAnother) {
  job_timeout_ = 60;
  runtime_extra_ = "stop_timeout_seconds = 1\n";
  Start("[handler.hanger]\nworkers = 1\n");
  std::vector<std::string> hung;
  for (int i = 0; i < 3; ++i)
    hung.push_back(Enqueue("hanger", "hh" + std::to_string(i) + "@x", "z"));
  auto running = [&] {
    return std::count_if(hung.begin(), hung.end(),
                         [&](const std::string& id) { return Is(id, JobState::kRunning); });
  };
  ASSERT_TRUE(WaitFor([&] { return running() == 1; }));
  std::string ok = Enqueue("testgood", "free@example.org", "fine");
  ASSERT_TRUE(WaitFor([&] { return Is(ok, JobState::kDone); }, 50));
  // [handler.hanger] workers = 1: one hung job at a time, the others wait their turn.
  EXPECT_EQ(running(), 1);
  EXPECT_EQ(std::count_if(hung.begin(), hung.end(),
                          [&](const std::string& id) { return Is(id, JobState::kQueued); }),
            2);
}

// Named instances of one module: each its own name for kv and jobs, its own [handler.NAME]
// settings; the module does not also run under its own name (nothing names it).
TEST_F(SupervisorTest, NamedInstancesOfOneModule) {
  testing::InstallFixture(handlers_, "version1", "versioned.so");
  Start(
      "[handler.alpha]\nmodule = \"versioned\"\nanswer = \"A\"\n"
      "[handler.beta]\nmodule = \"versioned.so\"\nanswer = \"B\"\nworkers = 1\n");
  std::string a = Enqueue("alpha", "na@example.org", "to alpha");
  std::string b = Enqueue("beta", "nb@example.org", "to beta");
  ASSERT_TRUE(WaitFor([&] { return Is(a, JobState::kDone) && Is(b, JobState::kDone); }));
  EXPECT_EQ(Kv("alpha", "version:<na@example.org>"), "1");
  EXPECT_EQ(Kv("beta", "version:<nb@example.org>"), "1");
  EXPECT_EQ(Kv("versioned", "version:<na@example.org>"), "");
  auto loaded = ReadLoadedHandlers(dir_.str() + "/db/spool");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->count("alpha") && loaded->count("beta") && loaded->count("testgood"));
  EXPECT_FALSE(loaded->count("versioned"));
}

TEST_F(SupervisorTest, StopsCleanly) {
  Start();
  EXPECT_EQ(StopSupervisor(&handle_, 10), 0);
}

}  // namespace
}  // namespace threadmill::runtime
