#include "store/counters.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "temp_env.h"

namespace threadmill::store {
namespace {

TEST(CountersTest, AddAndListAcrossProcesses) {
  testing::TempDir dir;
  Counters counters(testing::OpenOrDie(dir.path()));
  ASSERT_TRUE(counters.Add("tm_a_total{x=\"1\"}").ok());
  ASSERT_TRUE(counters.Add("tm_a_total{x=\"1\"}", 4).ok());
  ASSERT_TRUE(counters.Add("tm_b_total").ok());
  pid_t child = fork();
  if (child == 0) {  // another process (a worker) counts into the same store
    EnvOptions options;
    options.path = dir.path();
    auto env = Environment::Open(options);
    _exit(env.ok() && Counters(*env).Add("tm_b_total", 2).ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto all = counters.All();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], (std::pair<std::string, uint64_t>{"tm_a_total{x=\"1\"}", 5}));
  EXPECT_EQ((*all)[1], (std::pair<std::string, uint64_t>{"tm_b_total", 3}));
}

}  // namespace
}  // namespace threadmill::store
