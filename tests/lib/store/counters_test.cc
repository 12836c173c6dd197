// counters_test.cc - durable counters: added by several processes (and, on PostgreSQL, by
// two hosts) into one total, listed in series order. Against both backends
// (backend_fixture.h; part of store_backend_suite_test).
#include "store/counters.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_fixture.h"

namespace threadmill::store {
namespace {

class store_counters : public testing::BackendFixture {};

TEST_P(store_counters, AddAndListAcrossProcessesAndHosts) {
  Counters counters(Host(0));
  ASSERT_TRUE(counters.Add("tm_a_total{x=\"1\"}").ok());
  ASSERT_TRUE(counters.Add("tm_a_total{x=\"1\"}", 4).ok());
  ASSERT_TRUE(counters.Add("tm_b_total").ok());
  pid_t child = fork();
  if (child == 0) {  // another process (a worker) counts into the same store
    // LMDB: a child opens its own environment. PostgreSQL: the inherited backends open the
    // child's own connection (pg_process_backends.h).
    std::shared_ptr<Environment> env = Host(0);
    if (!pg()) {
      auto opened = Environment::Open(HostOptions(0));
      if (!opened.ok()) _exit(2);
      env = *opened;
    }
    _exit(Counters(env).Add("tm_b_total", 2).ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(Counters(Host(1)).Add("tm_b_total", 10).ok());
  for (int host : {0, 1}) {
    auto all = Counters(Host(host)).All();
    ASSERT_TRUE(all.ok()) << all.error().message;
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0], (std::pair<std::string, uint64_t>{"tm_a_total{x=\"1\"}", 5}));
    EXPECT_EQ((*all)[1], (std::pair<std::string, uint64_t>{"tm_b_total", 13}));
  }
}

THREADMILL_BACKEND_SUITE(store_counters);

}  // namespace
}  // namespace threadmill::store
