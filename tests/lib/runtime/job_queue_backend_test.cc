// job_queue_backend_test.cc - runtime::JobQueue against both job backends: the local LMDB
// spool and the shared PostgreSQL queue (store/job_backend.h) in a private cluster
// (tests/support/pg_cluster.h) started once for this binary, one fresh database per case.
//
// "Hosts": each case opens the store twice through store::OpenStore. For PostgreSQL the
// two have their own LMDB directories (so their own host ids and pools) and share the
// database (two MX hosts); for LMDB they share one directory (two processes of one host).
// Cases that only mean something for a shared queue (leases, fallback) skip on LMDB. The
// PostgreSQL cases skip only when the server binaries are absent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/incoming_message.h"
#include "runtime/job_queue.h"
#include "store/host_id.h"
#include "store/open_store.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

threadmill::testing::PgCluster* Cluster() {
  static threadmill::testing::PgCluster* cluster = [] {
    auto* c = new threadmill::testing::PgCluster();
    c->Start();
    return c;
  }();
  return cluster;
}
class StopCluster : public ::testing::Environment {
 public:
  void TearDown() override { Cluster()->Stop(); }
};
[[maybe_unused]] ::testing::Environment* const kStopCluster =
    ::testing::AddGlobalTestEnvironment(new StopCluster);

JobInput Input(std::string handler, std::string message_id,
               std::string recipient = "help@example.com") {
  JobInput in;
  in.handler = std::move(handler);
  in.recipient = std::move(recipient);
  in.mail_from = "alice@example.org";
  in.queue_id = "4XyZ";
  in.message_id = std::move(message_id);
  in.thread_id = "T1";
  in.dmarc = "pass";
  return in;
}

std::string Raw(const std::string& id) {
  return "Message-ID: <" + id + ">\r\nSubject: question\r\n\r\nbody of " + id + "\r\n";
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

const RetryPolicy kPolicy{5, 30, 3600, 15};

class job_queue_backend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string dsn;
    if (pg()) {
      threadmill::testing::PgCluster* cluster = Cluster();
      if (!cluster->skip_reason().empty()) GTEST_SKIP() << cluster->skip_reason();
      ASSERT_TRUE(cluster->error().empty()) << cluster->error();
      dsn = cluster->NewDatabase();
      ASSERT_FALSE(dsn.empty()) << cluster->error();
    }
    for (int host = 0; host < 2; ++host) {
      store::EnvOptions options;
      options.path = dir_.str() + (pg() ? "/host" + std::to_string(host) : "/host0");
      options.map_size_bytes = size_t{16} << 20;
      options.sync_each_commit = false;
      options.backend = GetParam();
      options.dsn = dsn;
      auto env = store::OpenStore(options);
      ASSERT_TRUE(env.ok()) << env.error().message;
      envs_[host] = *env;
      hosts_[host] = store::HostId(options);
      queues_[host] = std::make_unique<JobQueue>(*env, options.path + "/spool");
    }
  }
  bool pg() const { return GetParam() == "postgresql"; }
  JobQueue& Q(int host) { return *queues_[host]; }

  Result<std::vector<Enqueued>> EnqueueOn(int host, const std::vector<JobInput>& inputs,
                                          const std::string& raw) {
    IncomingMessage message(Q(host).spool_dir(), SIZE_MAX);
    message.Append(raw);
    return Q(host).EnqueueMessage(inputs, message, 0);
  }

  threadmill::testing::TempDir dir_;
  std::shared_ptr<store::Environment> envs_[2];
  std::string hosts_[2];
  std::unique_ptr<JobQueue> queues_[2];
};

INSTANTIATE_TEST_SUITE_P(Backends, job_queue_backend,
                         ::testing::Values(std::string("lmdb"), std::string("postgresql")),
                         [](const auto& info) { return info.param; });

TEST_P(job_queue_backend, EnqueueClaimReadFinish) {
  const std::string raw = Raw("q1@example.org");
  auto jobs =
      EnqueueOn(0, {Input("alpha", "q1@example.org"), Input("beta", "q1@example.org")}, raw);
  ASSERT_TRUE(jobs.ok()) << jobs.error().message;
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_FALSE((*jobs)[0].duplicate || (*jobs)[1].duplicate || (*jobs)[0].fallback);
  EXPECT_EQ(Q(1).shared(), pg());
  // The other host sees them, queued.
  EXPECT_EQ(*Q(1).Count(JobState::kQueued), 2u);
  auto listed = Q(1).List(10, JobState::kQueued);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].message_id, "q1@example.org");
  EXPECT_EQ((*listed)[0].dmarc, "pass");
  auto next = Q(1).NextDue();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_LE(**next, Now());

  const int64_t now = Now() + 1;
  auto claimed = Q(1).ClaimDue(now, {{"alpha", 5}});
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 1u);
  const Job& job = claimed->front();
  EXPECT_EQ(job.handler, "alpha");
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.attempts, 1u);
  EXPECT_TRUE(job.taken_from.empty());
  EXPECT_EQ(*Q(1).ReadMessage(job), raw);
  EXPECT_TRUE(Q(0).ClaimDue(now, {{"alpha", 5}})->empty());  // running: not claimed twice

  auto retried = Q(1).Finish(job.id, Outcome::kRetry, "handler-retry", now, kPolicy);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->state, JobState::kQueued);
  EXPECT_EQ(retried->next_try, now + 30);
  EXPECT_EQ((*Q(0).Get(job.id))->last_error, "handler-retry");
  EXPECT_TRUE(Q(0).ClaimDue(now + 29, {{"alpha", 5}})->empty());  // backoff
  auto again = Q(0).ClaimDue(now + 30, {{"alpha", 5}, {"beta", 5}});
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_EQ(again->size(), 2u);
  for (const Job& j : *again) {
    auto done = Q(0).Finish(j.id, Outcome::kDone, "", now + 31, kPolicy);
    ASSERT_TRUE(done.ok()) << done.error().message;
    EXPECT_EQ(done->state, JobState::kDone);
  }
  EXPECT_EQ(*Q(1).Count(JobState::kDone), 2u);
  EXPECT_EQ(Q(1).ReadMessage(*(*Q(1).Get(job.id))).error().code, ErrorCode::kNotFound);
  // Swept after the retention; the dedupe key goes with them.
  EXPECT_EQ(*Q(1).SweepDone(now + 32), 2u);
  EXPECT_FALSE(Q(0).Get(job.id)->has_value());
  auto fresh = EnqueueOn(1, {Input("alpha", "q1@example.org")}, raw);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_FALSE(fresh->front().duplicate);
}

// An MTA delivering one routed message to two hosts (or retrying it): one job in total.
TEST_P(job_queue_backend, SameMessageOnTwoHostsIsOneJob) {
  const std::string raw = Raw("dup@example.org");
  auto first = EnqueueOn(0, {Input("alpha", "dup@example.org")}, raw);
  ASSERT_TRUE(first.ok()) << first.error().message;
  // The recipient's case does not make another job.
  auto second = EnqueueOn(1, {Input("alpha", "dup@example.org", "Help@Example.com")}, raw);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second->front().duplicate);
  EXPECT_EQ(second->front().id, first->front().id);
  EXPECT_EQ(*Q(0).Count(JobState::kQueued), 1u);

  // Both hosts at once, many messages: each exactly once.
  constexpr int kMessages = 20;
  std::atomic<int> created{0}, failed{0};
  auto run = [&](int host) {
    for (int i = 0; i < kMessages; ++i) {
      std::string id = "race" + std::to_string(i) + "@example.org";
      auto r = EnqueueOn(host, {Input("alpha", id), Input("beta", id)}, Raw(id));
      if (!r.ok()) {
        ++failed;
        continue;
      }
      for (const Enqueued& e : *r) created += e.duplicate ? 0 : 1;
    }
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), 2 * kMessages);
  EXPECT_EQ(*Q(1).Count(JobState::kQueued), size_t{2 * kMessages + 1});

  // Both hosts claiming at once: every job claimed once.
  std::atomic<int> claimed{0};
  auto claim = [&](int host) {
    for (;;) {
      auto jobs = Q(host).ClaimDue(Now() + 1, {{"alpha", 3}, {"beta", 3}});
      if (!jobs.ok() || jobs->empty()) return;
      claimed += static_cast<int>(jobs->size());
    }
  };
  std::thread c(claim, 0), d(claim, 1);
  c.join();
  d.join();
  EXPECT_EQ(claimed.load(), 2 * kMessages + 1);
  EXPECT_EQ(*Q(0).Count(JobState::kRunning), size_t{2 * kMessages + 1});
}

// A dead host's job: nobody takes it while its lease runs; then the other host does, and
// the first can no longer record an outcome for it.
TEST_P(job_queue_backend, ExpiredLeaseIsTakenOver) {
  if (!pg()) GTEST_SKIP() << "leases belong to the shared queue";
  ASSERT_TRUE(EnqueueOn(0, {Input("alpha", "lease@example.org")}, Raw("lease@example.org")).ok());
  const int64_t now = Now() + 1;
  auto mine = Q(0).ClaimDue(now, {{"alpha", 1}}, 10);
  ASSERT_TRUE(mine.ok() && mine->size() == 1u);
  const std::string id = mine->front().id;
  EXPECT_TRUE(Q(1).ClaimDue(now + 10, {{"alpha", 1}}, 10)->empty());  // lease still held
  auto next = Q(1).NextDue();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ(**next, now + 10);  // the lease's end is what comes due
  // Host 1 restarting recovers only its own leases.
  EXPECT_EQ(*Q(1).RecoverRunning(now + 1), 0u);
  auto taken = Q(1).ClaimDue(now + 11, {{"alpha", 1}}, 10);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().id, id);
  EXPECT_EQ(taken->front().taken_from, hosts_[0]);
  EXPECT_EQ(taken->front().attempts, 2u);
  EXPECT_EQ(*Q(1).ReadMessage(taken->front()), Raw("lease@example.org"));
  // The old holder's late outcome is refused; the new holder's counts.
  auto late = Q(0).Finish(id, Outcome::kDone, "", now + 12, kPolicy);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*Q(0).RecoverRunning(now + 12), 0u);  // not host 0's any more
  auto done = Q(1).Finish(id, Outcome::kDone, "", now + 12, kPolicy);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->state, JobState::kDone);
}

TEST_P(job_queue_backend, RecoverRunningQueuesOwnJobsAgain) {
  ASSERT_TRUE(EnqueueOn(0, {Input("alpha", "crash@example.org")}, Raw("crash@example.org")).ok());
  const int64_t now = Now() + 1;
  auto mine = Q(0).ClaimDue(now, {{"alpha", 1}}, 600);
  ASSERT_TRUE(mine.ok() && mine->size() == 1u);
  EXPECT_EQ(*Q(0).RecoverRunning(now + 1), 1u);
  auto job = Q(1).Get(mine->front().id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->state, JobState::kQueued);
  EXPECT_EQ((*job)->last_error, "interrupted");
  EXPECT_EQ(Q(1).ClaimDue(now + 1, {{"alpha", 1}})->size(), 1u);
}

TEST_P(job_queue_backend, OperatorRetryAndPark) {
  auto jobs = EnqueueOn(0, {Input("alpha", "op@example.org")}, Raw("op@example.org"));
  ASSERT_TRUE(jobs.ok());
  const std::string id = jobs->front().id;
  const int64_t now = Now() + 1;
  ASSERT_TRUE(Q(1).Park(id, "parked by operator", now).ok());
  EXPECT_EQ((*Q(0).Get(id))->state, JobState::kParked);
  EXPECT_TRUE(Q(0).ClaimDue(now, {{"alpha", 1}})->empty());
  ASSERT_TRUE(Q(1).Retry(id, now).ok());
  auto claimed = Q(0).ClaimDue(now, {{"alpha", 1}});
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1u);
  EXPECT_EQ(Q(1).Park(id, "x", now).error().code, ErrorCode::kInvalidInput);  // running
  Job verdicts = claimed->front();
  verdicts.dmarc = "fail";
  verdicts.reauth = "done";
  ASSERT_TRUE(Q(0).SetVerdicts(id, verdicts).ok());
  EXPECT_EQ((*Q(1).Get(id))->dmarc, "fail");
  EXPECT_EQ((*Q(1).Get(id))->state, JobState::kRunning);
}

// The database away: the milter's jobs go to the local spool (not run there), and are pushed
// when it is back: nothing lost, and a job another host created meanwhile is not doubled.
// Runs last in this binary: it stops the cluster's server for a moment.
TEST_P(job_queue_backend, ZzFallbackWhileDatabaseAwayThenPush) {
  if (!pg()) GTEST_SKIP() << "the fallback belongs to the shared queue";
  threadmill::testing::PgCluster* cluster = Cluster();
  // Host 1 has the "both" message already (delivered to it before the outage).
  ASSERT_TRUE(EnqueueOn(1, {Input("alpha", "both@example.org")}, Raw("both@example.org")).ok());
  cluster->StopServer();
  auto away = EnqueueOn(0, {Input("alpha", "away@example.org")}, Raw("away@example.org"));
  ASSERT_TRUE(away.ok()) << away.error().message;
  EXPECT_TRUE(away->front().fallback);
  auto both = EnqueueOn(0, {Input("alpha", "both@example.org")}, Raw("both@example.org"));
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_TRUE(both->front().fallback);
  EXPECT_FALSE(both->front().duplicate);
  // A fallback job whose spool file vanished cannot be pushed: parked, not blocking others.
  auto lost = EnqueueOn(0, {Input("alpha", "lost@example.org")}, Raw("lost@example.org"));
  ASSERT_TRUE(lost.ok()) << lost.error().message;
  auto lost_job = Q(0).Get(lost->front().id);
  ASSERT_TRUE(lost_job.ok() && lost_job->has_value());
  ASSERT_EQ(unlink((*lost_job)->file.c_str()), 0);
  EXPECT_EQ(*Q(0).LocalFallbackDepth(), 3u);
  EXPECT_FALSE(Q(0).ClaimDue(Now() + 1, {{"alpha", 5}}).ok());  // not run locally
  EXPECT_FALSE(Q(0).PushLocal().ok());
  EXPECT_EQ(*Q(0).LocalFallbackDepth(), 3u);
  ASSERT_TRUE(cluster->StartAgain()) << cluster->error();
  // Calls fail at once for a while after the failed ones (pg_pool.h retry_after_ms): push
  // until the pool connects again, within a generous bound.
  Result<size_t> pushed = Q(0).PushLocal();
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       !pushed.ok() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pushed = Q(0).PushLocal();
  }
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_EQ(*pushed, 2u);
  EXPECT_EQ(*Q(0).LocalFallbackDepth(), 0u);
  auto parked = Q(0).Get(lost->front().id);
  ASSERT_TRUE(parked.ok() && parked->has_value());
  EXPECT_EQ((*parked)->state, JobState::kParked);
  EXPECT_EQ(*Q(0).PushLocal(), 0u);
  // One job per message in the shared queue, whichever host asks; the message readable.
  Result<std::vector<Job>> claimed = Q(1).ClaimDue(Now() + 1, {{"alpha", 5}});
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       !claimed.ok() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    claimed = Q(1).ClaimDue(Now() + 1, {{"alpha", 5}});
  }
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 2u);
  std::map<std::string, std::string> raw_of;
  for (const Job& j : *claimed) {
    EXPECT_TRUE(j.file.empty());
    raw_of[j.message_id] = *Q(1).ReadMessage(j);
  }
  EXPECT_EQ(raw_of["away@example.org"], Raw("away@example.org"));
  EXPECT_EQ(raw_of["both@example.org"], Raw("both@example.org"));
  EXPECT_EQ(*Q(0).Count(JobState::kQueued), 0u);
}

}  // namespace
}  // namespace threadmill::runtime
