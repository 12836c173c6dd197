// A worker process (RunWorker) driven over its socket pair the way the supervisor drives it,
// with real fixture modules and a real LMDB spool: jobs and their outcomes, heartbeats, bad
// requests, a missing spool file, a crash, and a clean finish. No root needed: the test's uid
// is the modules' trusted owner. The worker runs in a forked child (it opens its own store
// environment; LMDB must not be opened twice in one process).
#include "runtime/worker.h"
#include "runtime/worker_protocol.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"
#include "lib/reply/fake_sendmail.h"
#include "lib/runtime/runtime_test_util.h"
#include "runtime/drafts.h"
#include "runtime/job_queue.h"
#include "runtime/reauth.h"
#include "store/kv_store.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(chmod(dir_.str().c_str(), 0755), 0);
    std::string handlers = dir_.str() + "/handlers";
    ASSERT_EQ(mkdir(handlers.c_str(), 0755), 0);
    ASSERT_EQ(chmod(handlers.c_str(), 0755), 0);
    testing::InstallFixture(handlers, "good");
    testing::InstallFixture(handlers, "crash");
    std::string path = dir_.str() + "/threadmill.conf";
    std::ofstream(path) << "[store]\npath = \"" << dir_.str() << "/db\"\n"
                        << "[log]\ntarget = \"stderr\"\n"
                        << "[handlers]\ndir = \"" << handlers << "\"\n"
                        << "[reply]\nrequire_dmarc = false\nsendmail = [\"" << fake_.path()
                        << "\"]\n"
                        << "[handler.testgood]\ngreeting = \"Howdy\"\n";
    config_ = std::make_shared<RuntimeConfig>(ParseRuntimeConfig(*config::Load(path)));
    options_.owner_uid = geteuid();
    catalog_ = ScanModules(handlers, options_);
    ASSERT_EQ(catalog_.modules.size(), 2u);
    ASSERT_TRUE(catalog_.Find("crasher") && catalog_.Find("testgood"));
  }
  void TearDown() override {
    socket_.reset();
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

  // Spools a job (the store is closed again before the worker forks).
  std::string Enqueue(const std::string& handler, const std::string& msgid,
                      const std::string& subject, const std::string& dmarc = "pass") {
    auto env = testing::OpenTestEnv(config_->store_path);
    JobQueue queue(env, config_->spool_dir());
    JobInput in;
    in.handler = handler;
    in.recipient = "help@example.com";
    in.mail_from = "alice@example.org";
    in.queue_id = "Q1";
    in.message_id = msgid;
    in.thread_id = "T0000000000000000000A";
    in.dmarc = dmarc;
    in.sender_authenticated = dmarc == "pass";
    std::string raw = testing::Message(msgid, subject);
    in.raw_message = raw;
    auto id = queue.Enqueue(in);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : "";
  }
  std::string Kv(const std::string& handler, const std::string& key) {
    auto env = testing::OpenTestEnv(config_->store_path);
    store::KvStore kv(env);
    auto v = kv.Get(handler, key);
    return v.ok() && v->has_value() ? **v : "";
  }

  // A worker of handler `instance` (module: the module of that name, or `module`).
  void StartWorker(const std::string& instance = "testgood", const std::string& module = "") {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      close(sv[0]);
      _exit(RunWorker(sv[1], instance, catalog_.Find(module.empty() ? instance : module), config_,
                      options_));
    }
    close(sv[1]);
    socket_.reset(sv[0]);
  }
  // Requests are written in their short text forms for readable tables: "J <job id>",
  // "H <handler>", "X"; anything else is sent as a frame no worker takes (a kResult).
  static WorkerMessage Request(const std::string& text) {
    if (text.rfind("J ", 0) == 0) return WorkerMessage::RunJob(text.substr(2));
    if (text.rfind("H ", 0) == 0) return WorkerMessage::RunHeartbeat(text.substr(2));
    if (text == "X") return WorkerMessage::Exit();
    return WorkerMessage::Result(Outcome::kDone, text);
  }
  // One request, one answer as "R <outcome> <reason>" ("" on EOF or after 30 s). Reinjection
  // notices (kReinjectStart/End) on the way are skipped.
  std::string Ask(const std::string& request) {
    if (!SendMessage(socket_.get(), Request(request)).ok()) return "";
    for (;;) {
      pollfd p{socket_.get(), POLLIN, 0};
      if (poll(&p, 1, 30000) != 1) return "";
      auto got = ReceiveMessage(socket_.get(), /*dont_wait=*/false);
      if (!got.ok() || !got->has_value()) return "";
      const WorkerMessage& m = **got;
      if (m.type != MessageType::kResult) continue;
      return std::string("R ") + ToString(m.outcome) + " " + m.reason;
    }
  }
  int Finish(const std::string& request = "X") {
    (void)SendMessage(socket_.get(), Request(request));
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    return status;
  }

  testing::TempDir dir_;
  testing::FakeSendmail fake_{dir_.str()};
  std::shared_ptr<const RuntimeConfig> config_;
  LoaderOptions options_;
  ModuleCatalog catalog_;
  UniqueFd socket_;
  pid_t pid_ = -1;
};

// A re-authenticator that says temperror first, then pass (the factory is inherited by the
// forked worker, as the daemon's is).
class DnsComesBack : public JobReauthenticator {
 public:
  ReauthVerdict Reauthenticate(const Job&, std::string_view raw) override {
    EXPECT_NE(raw.find("Subject: Waits"), std::string_view::npos);
    ReauthVerdict v;
    v.dmarc = calls_++ == 0 ? "temperror" : "pass";
    v.spf = v.dmarc;
    v.sender_authenticated = v.dmarc == "pass";
    return v;
  }

 private:
  int calls_ = 0;
};

TEST_F(WorkerTest, TempErrorJobIsDeferredThenRunsOnTheNewVerdict) {
  InstallReauthFactory([](const config::AuthConfig& auth) -> std::unique_ptr<JobReauthenticator> {
    EXPECT_EQ(auth.reauth_window_seconds, 3600);
    return std::make_unique<DnsComesBack>();
  });
  std::string id = Enqueue("testgood", "w9@example.org", "Waits", "temperror");
  StartWorker();
  EXPECT_EQ(Ask("J " + id), "R defer dns-temperror");
  {
    auto env = testing::OpenTestEnv(config_->store_path);
    auto job = JobQueue(env, config_->spool_dir()).Get(id);
    ASSERT_TRUE(job.ok() && job->has_value());
    EXPECT_EQ((*job)->reauth, "deferred");
    EXPECT_EQ((*job)->dmarc, "temperror");
  }
  EXPECT_EQ(Ask("J " + id), "R done ");
  Finish();
  InstallReauthFactory({});
  auto env = testing::OpenTestEnv(config_->store_path);
  auto job = JobQueue(env, config_->spool_dir()).Get(id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->reauth, "done");
  EXPECT_EQ((*job)->dmarc, "pass");
  EXPECT_TRUE((*job)->sender_authenticated);
  EXPECT_EQ((*job)->no_reply_reason, "");
}

// Without a re-authenticator (a tool, a test) the temperror verdict stands at once.
TEST_F(WorkerTest, TempErrorJobWithoutReauthenticatorRunsAtOnce) {
  InstallReauthFactory({});
  std::string id = Enqueue("testgood", "w10@example.org", "Waits", "temperror");
  StartWorker();
  EXPECT_EQ(Ask("J " + id), "R done ");
  Finish();
  auto env = testing::OpenTestEnv(config_->store_path);
  auto job = JobQueue(env, config_->spool_dir()).Get(id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->reauth, "expired");
  EXPECT_EQ((*job)->dmarc, "temperror");
}

TEST_F(WorkerTest, RunsJobsAndHeartbeatsThenFinishes) {
  std::string a = Enqueue("testgood", "w1@example.org", "Hello");
  std::string b = Enqueue("testgood", "w2@example.org", "Again");
  StartWorker();
  EXPECT_EQ(Ask("J " + a), "R done ");
  EXPECT_EQ(Ask("J " + b), "R done ");
  EXPECT_EQ(Ask("H heartbeat-testgood-1"), "R done ");
  EXPECT_EQ(Ask("H heartbeat-testgood-2"), "R done ");
  int status = Finish();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(Kv("testgood", "env:<w1@example.org>").find("subject=Hello"), std::string::npos);
  EXPECT_NE(Kv("testgood", "env:<w2@example.org>").find("sender=alice@example.org"),
            std::string::npos);
  EXPECT_EQ(Kv("testgood", "heartbeat"), "2");
}

TEST_F(WorkerTest, Outcomes) {
  std::string retry = Enqueue("testgood", "o1@example.org", "Please [retry]");
  std::string fail = Enqueue("testgood", "o2@example.org", "Please [fail]");
  std::string unloaded = Enqueue("absent", "o3@example.org", "Nobody home");
  std::string no_file = Enqueue("testgood", "o4@example.org", "Lost");
  ASSERT_EQ(std::remove((config_->spool_dir() + "/" + no_file + ".eml").c_str()), 0);
  StartWorker();
  struct Case {
    std::string request, want;
  } cases[] = {
      {"J " + retry, "R retry handler-retry"},
      {"J " + fail, "R park handler-fail"},
      {"J " + unloaded, "R retry handler-not-loaded"},
      {"J J00000000000000000000", "R park job-missing"},
      {"what?", "R retry bad-request"},
  };
  for (const auto& c : cases) EXPECT_EQ(Ask(c.request), c.want) << c.request;
  EXPECT_EQ(Ask("J " + no_file).rfind("R park spool-file: ", 0), 0u);
  int status = Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// A worker serves one handler: another handler's job is not run there, and a module without
// on_heartbeat answers heartbeats with park.
TEST_F(WorkerTest, RunsOnlyItsOwnHandler) {
  std::string good = Enqueue("testgood", "own1@example.org", "Hello");
  std::string crash = Enqueue("crasher", "own2@example.org", "Boom");
  StartWorker("crasher");
  EXPECT_EQ(Ask("J " + good), "R retry handler-not-loaded");
  EXPECT_EQ(Ask("H heartbeat-crasher-1"), "R park no-heartbeat");
  int status = Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(Kv("crasher", "attempt:<own2@example.org>:0"), "");  // never ran
  EXPECT_EQ(Kv("testgood", "env:<own1@example.org>"), "");
}

// A named instance: module testgood serving handler "support" keeps its kv records under
// "support" (host calls use the instance name).
TEST_F(WorkerTest, NamedInstanceUsesItsOwnName) {
  std::string a = Enqueue("support", "inst1@example.org", "Hello");
  StartWorker("support", "testgood");
  EXPECT_EQ(Ask("J " + a), "R done ");
  int status = Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(Kv("support", "env:<inst1@example.org>").find("subject=Hello"), std::string::npos);
  EXPECT_EQ(Kv("testgood", "env:<inst1@example.org>"), "");
}

TEST_F(WorkerTest, DraftDecisionJobsCallOnDraftDecisionOrEndSilently) {
  std::string draft_id, told, silent, missing;
  {
    auto env = testing::OpenTestEnv(config_->store_path);
    DraftStore drafts(env);
    JobQueue queue(env, config_->spool_dir());
    Draft d;
    d.handler = "testgood";
    d.facts.thread_id = "T0000000000000000000A";
    d.content.text = "Drafted answer";
    draft_id = *drafts.Create(d);
    ASSERT_TRUE(drafts.Reject(draft_id, "carol", "no thanks").ok());
    told = *EnqueueDecision(queue, **drafts.Get(draft_id));
    d.handler = "crasher";  // no on_draft_decision: done without running anything
    std::string other = *drafts.Create(d);
    ASSERT_TRUE(drafts.Reject(other, "carol").ok());
    silent = *EnqueueDecision(queue, **drafts.Get(other));
    Draft gone = **drafts.Get(draft_id);
    gone.id = "Dgone";
    missing = *EnqueueDecision(queue, gone);
  }
  StartWorker();
  EXPECT_EQ(Ask("J " + told), "R done ");
  EXPECT_EQ(Ask("J " + missing), "R park draft-missing");
  Finish();
  StartWorker("crasher");  // a worker serves one handler
  EXPECT_EQ(Ask("J " + silent), "R done ");
  Finish();
  EXPECT_EQ(Kv("testgood", "decision:" + draft_id),
            "rejected|no thanks||T0000000000000000000A|carol|Drafted answer");
}

TEST_F(WorkerTest, ACrashingHandlerKillsOnlyTheWorker) {
  std::string crash = Enqueue("crasher", "c1@example.org", "Boom");
  StartWorker("crasher");
  EXPECT_EQ(Ask("J " + crash), "");  // EOF: the worker died with the handler
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_EQ(Kv("crasher", "attempt:<c1@example.org>:0"), "0");  // it did run
}

TEST_F(WorkerTest, EndsWhenTheSupervisorGoesAway) {
  StartWorker();
  socket_.reset();  // EOF on the worker's side
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace threadmill::runtime
