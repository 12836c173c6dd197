// The durable job spool on real LMDB and a real spool directory.
#include "runtime/job_queue.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <map>

#include "lib/runtime/runtime_test_util.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

JobInput Input(std::string_view raw) {  // the view must outlive the JobInput
  JobInput in;
  in.handler = "testgood";
  in.recipient = "help@example.com";
  in.mail_from = "alice@example.org";
  in.queue_id = "4XyZ";
  in.message_id = "m1@example.org";
  in.thread_id = "T1";
  in.dmarc = "pass";
  in.raw_message = raw;
  return in;
}

TEST(JobQueue, EnqueueWritesFileAndRecord) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  std::string raw = testing::Message("m1@example.org", "Hi");
  auto id = queue.Enqueue(Input(raw));
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->front(), 'J');
  auto job = queue.Get(*id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->state, JobState::kQueued);
  EXPECT_EQ((*job)->dmarc, "pass");
  EXPECT_EQ((*job)->size, raw.size());
  EXPECT_EQ(*queue.ReadMessage(**job), raw);
  struct stat st;
  ASSERT_EQ(stat((*job)->file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(JobQueue, ClaimRetryBackoffPark) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  auto id = *queue.Enqueue(Input(raw));
  RetryPolicy policy{3, 10, 25};
  int64_t now = 1000000000000;  // far future: the job is due
  auto claimed = queue.ClaimDue(now, 5, nullptr);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].attempts, 1u);
  EXPECT_EQ((*claimed)[0].state, JobState::kRunning);
  EXPECT_TRUE(queue.ClaimDue(now, 5, nullptr)->empty());  // running: not claimed twice
  auto j = queue.Finish(id, Outcome::kRetry, "crashed", now, policy);
  EXPECT_EQ(j->state, JobState::kQueued);
  EXPECT_EQ(j->next_try, now + 10);
  EXPECT_TRUE(queue.ClaimDue(now + 9, 5, nullptr)->empty());  // backoff
  ASSERT_EQ(queue.ClaimDue(now + 10, 5, nullptr)->size(), 1u);
  j = queue.Finish(id, Outcome::kRetry, "crashed", now + 10, policy);
  EXPECT_EQ(j->next_try, now + 10 + 20);
  ASSERT_EQ(queue.ClaimDue(now + 30, 5, nullptr)->size(), 1u);
  j = queue.Finish(id, Outcome::kRetry, "crashed", now + 30, policy);
  EXPECT_EQ(j->state, JobState::kParked);
  EXPECT_EQ(j->attempts, 3u);
  EXPECT_EQ(j->last_error, "crashed");
  // Operator retry: fresh attempts.
  ASSERT_TRUE(queue.Retry(id, now + 40).ok());
  EXPECT_EQ((*queue.Get(id))->attempts, 0u);
  ASSERT_EQ(queue.ClaimDue(now + 40, 5, nullptr)->size(), 1u);
  j = queue.Finish(id, Outcome::kDone, "", now + 41, policy);
  EXPECT_EQ(j->state, JobState::kDone);
  EXPECT_FALSE(std::filesystem::exists(j->file));  // message removed when done
  EXPECT_FALSE(queue.Retry(id, now).ok());
  EXPECT_EQ(*queue.SweepDone(now + 42), 1u);
  EXPECT_FALSE(queue.Get(id)->has_value());
}

// A job waiting for DNS (reauth.h) comes back after defer_seconds without spending an
// attempt, however often; its re-authenticated verdicts and HELO are kept.
TEST(JobQueue, DeferSpendsNoAttemptAndVerdictsAreStored) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  JobInput in = Input(raw);
  in.dmarc = "temperror";
  in.helo = "mx.example.org";
  in.client_addr = "192.0.2.7";
  auto id = *queue.Enqueue(in);
  RetryPolicy policy{2, 10, 25, 7};
  int64_t now = 1000000000000;
  for (int i = 0; i < 5; ++i) {  // more deferrals than max_attempts: never parked
    ASSERT_EQ(queue.ClaimDue(now, 5, nullptr)->size(), 1u) << i;
    auto j = queue.Finish(id, Outcome::kDefer, "dns-temperror", now, policy);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(j->state, JobState::kQueued);
    EXPECT_EQ(j->attempts, 0u);
    EXPECT_EQ(j->next_try, now + 7);
    EXPECT_TRUE(queue.ClaimDue(now + 6, 5, nullptr)->empty());
    now += 7;
  }
  Job verdicts;
  verdicts.dmarc = "pass";
  verdicts.spf = "pass";
  verdicts.dkim = "pass";
  verdicts.sender_authenticated = true;
  verdicts.no_reply_reason = "";
  verdicts.reauth = "done";
  ASSERT_TRUE(queue.SetVerdicts(id, verdicts).ok());
  auto job = *queue.Get(id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->dmarc, "pass");
  EXPECT_TRUE(job->sender_authenticated);
  EXPECT_EQ(job->reauth, "done");
  EXPECT_EQ(job->helo, "mx.example.org");
  EXPECT_EQ(job->client_addr, "192.0.2.7");
  EXPECT_EQ(job->state, JobState::kQueued);
  auto decoded = DecodeJob(EncodeJob(*job));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, *job);
}

TEST(JobQueue, RecoverRunningAfterCrash) {
  testing::TempDir dir;
  std::string id;
  {
    JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
    id = *queue.Enqueue(Input("x"));
    ASSERT_EQ(queue.ClaimDue(1000000000000, 1, nullptr)->size(), 1u);
  }
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  EXPECT_EQ(*queue.RecoverRunning(5), 1u);
  auto job = *queue.Get(id);
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->attempts, 1u);  // the interrupted attempt counts
  EXPECT_EQ(job->last_error, "interrupted");
}

TEST(JobQueue, ClaimFilterAndPark) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  JobInput in = Input("x");
  auto a = *queue.Enqueue(in);
  in.handler = "other";
  auto b = *queue.Enqueue(in);
  auto claimed =
      queue.ClaimDue(1000000000000, 5, [](const Job& j) { return j.handler == "other"; });
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, b);
  ASSERT_TRUE(queue.Park(a, "operator", 1).ok());
  EXPECT_EQ((*queue.Get(a))->state, JobState::kParked);
  EXPECT_EQ(queue.List(10, JobState::kParked)->size(), 1u);
  EXPECT_EQ(queue.List(10)->size(), 2u);
}

// Claims per handler: a backlog of one handler (older jobs) never keeps another handler's due
// job from being claimed, and no handler gets more than its capacity.
TEST(JobQueue, ClaimPerHandlerCapacity) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  JobInput in = Input("x");
  in.handler = "busy";
  std::vector<std::string> busy;
  for (int i = 0; i < 6; ++i) {
    in.received_time = 100 + i;
    busy.push_back(*queue.Enqueue(in));
  }
  in.handler = "quiet";
  in.received_time = 200;
  std::string quiet = *queue.Enqueue(in);
  struct Case {
    std::map<std::string, size_t> capacity;
    size_t busy, quiet;
  } cases[] = {
      {{{"busy", 2}, {"quiet", 1}}, 2, 1},  // quiet's job is claimed behind busy's backlog
      {{{"busy", 0}}, 0, 0},
      {{{"busy", 3}}, 3, 0},                  // handlers not in the map: none
      {{{"busy", 10}, {"quiet", 10}}, 1, 0},  // what is left
  };
  for (const auto& c : cases) {
    auto claimed = queue.ClaimDue(1000000000000, c.capacity);
    ASSERT_TRUE(claimed.ok());
    size_t got_busy = 0, got_quiet = 0;
    for (const Job& j : *claimed) (j.handler == "busy" ? got_busy : got_quiet) += 1;
    EXPECT_EQ(got_busy, c.busy);
    EXPECT_EQ(got_quiet, c.quiet);
  }
  EXPECT_EQ((*queue.Get(quiet))->state, JobState::kRunning);
  EXPECT_EQ((*queue.Get(busy[0]))->state, JobState::kRunning);  // earliest first
}

// Issue 8 items 7 and 8: one file for all jobs of a message, no second job for the same
// (Message-ID, recipient, handler), and the record goes with its swept job.
TEST(JobQueue, EnqueueMessageLinksOnceAndDeduplicates) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  std::string raw = testing::Message("m1@example.org", "Hi");
  std::vector<JobInput> inputs = {Input(""), Input(""), Input("")};
  inputs[1].recipient = "sales@example.com";
  inputs[2].handler = "other";
  auto enqueue = [&] {
    IncomingMessage message(dir.str() + "/spool", 1 << 20);
    message.Append(raw);
    return queue.EnqueueMessage(inputs, message, 0);
  };
  auto first = enqueue();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 3u);
  struct stat st {};
  auto job = *queue.Get((*first)[0].id);
  ASSERT_EQ(stat(job->file.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 3u);  // the temporary name is gone, three job names share the data
  EXPECT_EQ(*queue.ReadMessage(*job), raw);

  auto again = enqueue();
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE((*again)[i].duplicate);
    EXPECT_EQ((*again)[i].id, (*first)[i].id);
  }
  EXPECT_EQ(queue.List(10)->size(), 3u);

  // Done and swept: the same message may become a job again.
  int64_t now = 1000000000000;
  ASSERT_TRUE(queue.ClaimDue(now, 5, nullptr).ok());
  for (const auto& e : *first) ASSERT_TRUE(queue.Finish(e.id, Outcome::kDone, "", now, {}).ok());
  EXPECT_EQ(*queue.SweepDone(now + 1), 3u);
  auto later = enqueue();
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE((*later)[0].duplicate);
  EXPECT_EQ(queue.List(10)->size(), 3u);
}

TEST(JobQueue, EnqueueMessageQuota) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  IncomingMessage message(dir.str() + "/spool", 1 << 30);
  message.Append(std::string(3 << 20, 'q'));
  auto refused = queue.EnqueueMessage({Input("")}, message, 2 << 20);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTemporary);
  EXPECT_TRUE(queue.List(10)->empty());
  auto fits = queue.EnqueueMessage({Input("")}, message, 8 << 20);
  ASSERT_TRUE(fits.ok());
  EXPECT_GE(queue.UsedBytes(), 3u << 20);
}

// Done jobs are swept by age through the spool index, in batches; younger ones stay, and
// the index keeps counting every state (what /metrics shows).
TEST(JobQueue, SweepDoneThroughTheIndex) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  RetryPolicy policy;
  const size_t batch = 4, n = batch + 2;
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(queue.Enqueue(Input(raw)).ok());
  std::string young = *queue.Enqueue(Input(raw));
  std::string waiting = *queue.Enqueue(Input(raw));
  int64_t now = 2000000000000;
  auto claimed = queue.ClaimDue(now, n + 1, [&](const Job& j) { return j.id != waiting; });
  ASSERT_EQ(claimed->size(), n + 1);
  for (const Job& j : *claimed) {
    ASSERT_TRUE(
        queue.Finish(j.id, Outcome::kDone, "", j.id == young ? now + 100 : now, policy).ok());
  }
  EXPECT_EQ(*queue.Count(JobState::kDone), n + 1);
  EXPECT_EQ(*queue.Count(JobState::kQueued), 1u);
  EXPECT_EQ(*queue.Count(JobState::kRunning), 0u);
  EXPECT_EQ(*queue.SweepDone(now + 1, batch), batch);  // one batch per call, oldest first
  EXPECT_EQ(*queue.SweepDone(now + 1, batch), 2u);
  EXPECT_EQ(*queue.SweepDone(now + 1, batch), 0u);
  EXPECT_EQ(*queue.Count(JobState::kDone), 1u);
  EXPECT_TRUE(queue.Get(young)->has_value());
  EXPECT_TRUE(queue.Get(waiting)->has_value());
  EXPECT_EQ(queue.List(10, JobState::kDone)->size(), 1u);
}

// NextDue reads the earliest retry without a scan; nothing due means no claim.
TEST(JobQueue, NextDueFollowsRetries) {
  testing::TempDir dir;
  JobQueue queue(testing::OpenTestEnv(dir.str() + "/db"), dir.str() + "/spool");
  EXPECT_FALSE(queue.NextDue()->has_value());
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  auto id = *queue.Enqueue(Input(raw));
  int64_t now = 2000000000000;
  ASSERT_EQ(queue.ClaimDue(now, 1, nullptr)->size(), 1u);
  EXPECT_FALSE(queue.NextDue()->has_value());
  ASSERT_TRUE(queue.Finish(id, Outcome::kRetry, "x", now, RetryPolicy{5, 30, 60}).ok());
  EXPECT_EQ(**queue.NextDue(), now + 30);
  EXPECT_TRUE(queue.ClaimDue(now + 29, 1, nullptr)->empty());
  EXPECT_EQ(queue.ClaimDue(now + 30, 1, nullptr)->size(), 1u);
}

// A spool written without the index (an older threadmill) gets one at supervisor start.
TEST(JobQueue, RebuildIndexForAnOldSpool) {
  testing::TempDir dir;
  auto env = testing::OpenTestEnv(dir.str() + "/db");
  JobQueue queue(env, dir.str() + "/spool");
  std::string raw = "Subject: x\r\n\r\nbody\r\n";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue.Enqueue(Input(raw)).ok());
  ASSERT_EQ(*queue.RebuildIndex(), 0u);  // already right
  ASSERT_TRUE(env->Write([&](store::WriteTxn& txn) -> Status {
                   mdb_drop(txn.raw(), env->dbi(store::Db::kSpoolIndex), 0);
                   return {};
                 })
                  .ok());
  EXPECT_TRUE(queue.ClaimDue(2000000000000, 5, nullptr)->empty());  // invisible without it
  EXPECT_EQ(*queue.RebuildIndex(), 3u);
  EXPECT_EQ(queue.ClaimDue(2000000000000, 5, nullptr)->size(), 3u);
}

TEST(Job, RetryDelay) {
  EXPECT_EQ(RetryDelay(1, 30, 3600), 30);
  EXPECT_EQ(RetryDelay(2, 30, 3600), 60);
  EXPECT_EQ(RetryDelay(4, 30, 3600), 240);
  EXPECT_EQ(RetryDelay(20, 30, 3600), 3600);
}

}  // namespace
}  // namespace threadmill::runtime
