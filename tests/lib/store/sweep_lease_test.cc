// sweep_lease_test.cc - store::TakeSharedSweep (shared_sweep.h): with LMDB every host sweeps
// its own data; with PostgreSQL one host per interval takes the lease and the other skips.
// Part of store_backend_suite_test (backend_fixture.h).
#include "store/shared_sweep.h"

#include <gtest/gtest.h>

#include "backend_fixture.h"

namespace threadmill::store {
namespace {

class store_sweep_lease : public testing::BackendFixture {};

TEST_P(store_sweep_lease, OneHostPerInterval) {
  auto take = [&](int host, const char* name, int64_t now) {
    auto got = TakeSharedSweep(*Host(host), name, now, 60);
    EXPECT_TRUE(got.ok()) << got.error().message;
    return got.ok() && *got;
  };
  EXPECT_TRUE(take(0, "threads", 1000));
  EXPECT_EQ(take(1, "threads", 1001), !pg()) << "held by host 0 until 1060";
  EXPECT_TRUE(take(1, "housekeeping", 1001)) << "another lease";
  EXPECT_EQ(take(0, "threads", 1059), !pg()) << "not even host 0 sweeps twice per interval";
  EXPECT_TRUE(take(1, "threads", 1060)) << "ran out: the other host takes it";
  EXPECT_EQ(take(0, "threads", 1061), !pg());
}

THREADMILL_BACKEND_SUITE(store_sweep_lease);

}  // namespace
}  // namespace threadmill::store
