// The worker pool without root and without handler modules: real child processes running a
// small function, their messages, the reinjection grace on time-outs, reaping and the memory
// limit set in the child.
#include "runtime/worker_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace threadmill::runtime {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reaps until `done` or 10 s pass; returns whether `done` became true.
bool ReapUntil(WorkerPool& pool, const std::function<bool()>& done,
               const std::function<void(WorkerSlot&, int)>& on_end) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    pool.Reap([](WorkerSlot&, const WorkerMessage&) {}, on_end);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A child that answers each kRunJob with kReinjectStart, then waits for kExit.
int Reinjector(int fd) {
  for (;;) {
    auto got = ReceiveMessage(fd, false);
    if (!got.ok() || !*got || (*got)->type == MessageType::kExit) return 0;
    if (!SendMessage(fd, WorkerMessage::ReinjectStart(3)).ok()) return 1;
  }
}

TEST(WorkerPool, ReinjectionDefersTheTimeoutKill) {
  WorkerPool pool;
  ASSERT_TRUE(pool.Spawn("t", Reinjector, 0));
  WorkerSlot& slot = pool.slots().front();
  slot.busy = true;
  slot.deadline_ms = NowMs() - 1;  // its own deadline has passed
  pool.Send(slot, WorkerMessage::RunJob("J1"));
  std::optional<WorkerMessage> message;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!message && std::chrono::steady_clock::now() < deadline) message = pool.Receive(slot);
  ASSERT_TRUE(message.has_value());
  ASSERT_EQ(message->type, MessageType::kReinjectStart);
  slot.reinject_until_ms = NowMs() + message->budget_seconds * 1000;  // as the supervisor does
  int timeouts = 0;
  pool.CheckTimeouts(NowMs(), [&](WorkerSlot&) { ++timeouts; });
  EXPECT_EQ(timeouts, 0) << "killed in the middle of a reinjection";
  EXPECT_FALSE(slot.killed);
  EXPECT_GT(pool.MsToNextDeadline(NowMs(), 60000), 1000);
  slot.reinject_until_ms = 0;  // kReinjectEnd: the job's own deadline applies again
  pool.CheckTimeouts(NowMs(), [&](WorkerSlot&) { ++timeouts; });
  EXPECT_EQ(timeouts, 1);
  int status = 0;
  ASSERT_TRUE(ReapUntil(
      pool, [&] { return pool.empty(); }, [&](WorkerSlot&, int s) { status = s; }));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(WorkerPool, RetireLetsAnIdleWorkerExit) {
  WorkerPool pool;
  ASSERT_TRUE(pool.Spawn("t", Reinjector, 0));
  ASSERT_TRUE(pool.Spawn("t", Reinjector, 0));
  EXPECT_EQ(pool.Active(), 2u);
  EXPECT_EQ(pool.Idle().size(), 2u);
  pool.RetireAll();
  EXPECT_EQ(pool.Active(), 0u);
  EXPECT_FALSE(pool.HasIdle());
  int clean = 0;
  ASSERT_TRUE(ReapUntil(
      pool, [&] { return pool.empty(); },
      [&](WorkerSlot&, int s) { clean += WIFEXITED(s) && WEXITSTATUS(s) == 0; }));
  EXPECT_EQ(clean, 2);
}

TEST(WorkerPool, MemoryLimitIsSetInTheChild) {
  WorkerPool pool;
  const uint64_t limit = uint64_t{96} << 20;
  ASSERT_TRUE(pool.Spawn(
      "t",
      [&](int) {
        rlimit got{};
        getrlimit(RLIMIT_DATA, &got);
        return got.rlim_cur == limit && got.rlim_max == limit ? 0 : 1;
      },
      limit));
  int status = -1;
  ASSERT_TRUE(ReapUntil(
      pool, [&] { return pool.empty(); }, [&](WorkerSlot&, int s) { status = s; }));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace threadmill::runtime
