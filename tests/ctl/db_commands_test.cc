// db_commands_test.cc - the real threadmillctl db status / db migrate against a private
// PostgreSQL cluster (tests/support/pg_cluster.h): a new database is reachable with every
// migration pending, migrate applies them (once: again is "up to date"), the DSN is shown
// without its password, an unreachable database is exit 1 within the connect bound, and the
// lmdb backend has nothing to migrate. Skips without the PostgreSQL server binaries.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ctl_run.h"
#include "store/postgresql/pg_schema.h"
#include "support/pg_cluster.h"
#include "support/pg_database.h"
#include "support/temp_dir.h"

namespace threadmill::ctl {
namespace {

class CtlDb : public ::testing::Test {
 protected:
  std::string Conf(const std::string& store_extra) {
    const std::string path = dir_.str() + "/c" + std::to_string(++confs_) + ".conf";
    return "-c " + WriteConf(path, dir_.str() + "/store", store_extra) + " ";
  }
  testing::TempDir dir_;
  int confs_ = 0;
};

TEST_F(CtlDb, LmdbHasNothingToMigrate) {
  const std::string conf = Conf("");
  int status = -1;
  std::string out = RunCtl(conf + "db status", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("backend    lmdb"), std::string::npos) << out;
  out = RunCtl(conf + "db migrate", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("nothing to migrate"), std::string::npos) << out;
  out = RunCtl(conf + "db", &status);
  EXPECT_EQ(status, 2) << out;
}

TEST_F(CtlDb, StatusAndMigrateOnAPrivateCluster) {
  threadmill::testing::PgCluster cluster;
  std::string dsn;
  threadmill::testing::StartWithDatabase(&cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  const std::string conf = Conf(PostgresqlStore(dsn + " password=sekrit"));
  const int expected = store::pg::kPgSchemaVersion;

  int status = -1;
  std::string out = RunCtl(conf + "--json db status", &status);
  EXPECT_EQ(status, 1) << out;  // reachable, but not migrated yet
  auto before = nlohmann::json::parse(out);
  EXPECT_EQ(before["backend"], "postgresql");
  EXPECT_EQ(before["reachable"], true);
  EXPECT_EQ(before["schema_applied"], 0);
  EXPECT_EQ(before["schema_expected"], expected);
  EXPECT_EQ(before["pending"].size(), static_cast<size_t>(expected));
  const std::string target = before["database"];
  EXPECT_NE(target.find("port=" + std::to_string(cluster.port())), std::string::npos) << target;
  EXPECT_EQ(out.find("sekrit"), std::string::npos) << out;

  out = RunCtl(conf + "db migrate", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("schema version " + std::to_string(expected)), std::string::npos) << out;
  out = RunCtl(conf + "db migrate", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("up to date"), std::string::npos) << out;

  out = RunCtl(conf + "db status", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("reachable  yes"), std::string::npos) << out;
  EXPECT_NE(out.find("pending    none"), std::string::npos) << out;
  EXPECT_EQ(out.find("sekrit"), std::string::npos) << out;

  cluster.StopServer();
  const auto start = std::chrono::steady_clock::now();
  out = RunCtl(conf + "db status", &status);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2 + 3));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("reachable  no"), std::string::npos) << out;
  out = RunCtl(conf + "db migrate", &status);
  EXPECT_EQ(status, 1) << out;
  cluster.Stop();
}

}  // namespace
}  // namespace threadmill::ctl
