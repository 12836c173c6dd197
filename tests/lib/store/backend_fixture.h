// backend_fixture.h - the store test fixture that runs a suite against every backend: LMDB in
// a temporary directory and PostgreSQL in ONE private cluster per test binary
// (tests/support/pg_cluster.h), a fresh database per case.
//
// Host(i) is the store of "host" i, opened by store::OpenStore as the daemon does: for LMDB
// both hosts are the one environment (two workers of one host: LMDB allows one environment
// per file per process); for PostgreSQL each host has its own LMDB directory with the lazily
// connecting PostgreSQL backends attached (two MX hosts sharing one database). The PostgreSQL
// cases skip (GTEST_SKIP, with the reason) only when the server binaries are absent.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/open_store.h"
#include "support/pg_cluster.h"
#include "support/pg_database.h"
#include "temp_env.h"

namespace threadmill::store::testing {

// Whether a case asked for the cluster (a run of LMDB cases only never starts one).
inline bool& SuiteClusterUsed() {
  static bool used = false;
  return used;
}

// The cluster of this process, started by the first PostgreSQL case, stopped at the end.
inline threadmill::testing::PgCluster* SuiteCluster() {
  SuiteClusterUsed() = true;
  static threadmill::testing::PgCluster* cluster = [] {
    auto* c = new threadmill::testing::PgCluster();
    c->Start();
    return c;
  }();
  return cluster;
}
class StopSuiteCluster : public ::testing::Environment {
 public:
  void TearDown() override {
    if (SuiteClusterUsed()) SuiteCluster()->Stop();
  }
};
[[maybe_unused]] inline ::testing::Environment* const kStopSuiteCluster =
    ::testing::AddGlobalTestEnvironment(new StopSuiteCluster);

class BackendFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!pg()) return;
    threadmill::testing::NewDatabaseOrSkip(SuiteCluster(), &dsn_);
  }

  bool pg() const { return GetParam() == "postgresql"; }

  // The options OpenStore gets on host i.
  EnvOptions HostOptions(int host) const {
    EnvOptions options;
    options.path = pg() ? dir_.sub("host" + std::to_string(host)) : dir_.sub("lmdb");
    options.map_size_bytes = size_t{16} << 20;
    options.sync_each_commit = false;  // the suites test semantics, not durability
    options.backend = GetParam();
    options.dsn = dsn_;
    return options;
  }

  std::shared_ptr<Environment> Host(int host) {
    const int slot = pg() ? host : 0;
    if (!hosts_[slot]) {
      auto env = OpenStore(HostOptions(host));
      EXPECT_TRUE(env.ok()) << (env.ok() ? "" : env.error().message);
      if (env.ok()) hosts_[slot] = *env;
    }
    return hosts_[slot];
  }

  TempDir dir_;
  std::string dsn_;
  std::shared_ptr<Environment> hosts_[2];
};

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace threadmill::store::testing

// Runs the TEST_Ps of `fixture` (derived from BackendFixture) against both backends.
#define THREADMILL_BACKEND_SUITE(fixture)                                                     \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                                 \
                           ::testing::Values(std::string("lmdb"), std::string("postgresql")), \
                           ::threadmill::store::testing::BackendName)
