// pg_database.h - a fresh database on a private PostgreSQL cluster (pg_cluster.h) for a
// GoogleTest case, which is skipped where the PostgreSQL server binaries are absent.
//
// Both helpers report through GoogleTest (GTEST_SKIP, a fatal failure) and leave *dsn empty
// then: the caller returns at once.
//   PgCluster cluster;
//   std::string dsn;
//   StartWithDatabase(&cluster, &dsn);
//   if (dsn.empty()) return;  // skipped or failed
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "support/pg_cluster.h"

namespace threadmill::testing {

// A fresh database in `cluster`, whose Start() was called before (and may have failed): its
// DSN in *dsn. Skips the running test when the server binaries are absent (skip_reason()),
// fails it when the cluster did not start or the database cannot be made.
inline void NewDatabaseOrSkip(PgCluster* cluster, std::string* dsn) {
  dsn->clear();
  if (!cluster->skip_reason().empty()) GTEST_SKIP() << cluster->skip_reason();
  ASSERT_TRUE(cluster->error().empty()) << cluster->error();
  *dsn = cluster->NewDatabase();
  ASSERT_FALSE(dsn->empty()) << cluster->error();
}

// Starts `cluster` (a failed start says why in skip_reason() or error()), then
// NewDatabaseOrSkip.
inline void StartWithDatabase(PgCluster* cluster, std::string* dsn) {
  cluster->Start();
  NewDatabaseOrSkip(cluster, dsn);
}

}  // namespace threadmill::testing
