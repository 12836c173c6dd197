// database_admin.h - the operator's view of the shared database: where it is, whether it
// answers, which schema migrations are applied and which are pending; applying them.
//
// DESCRIPTION
//   What `threadmillctl db status` and `db migrate` show and do. With [store] backend =
//   "lmdb" there is no database: the status says so and Migrate has nothing to do (the
//   LMDB layout is checked when the environment opens). With "postgresql" the status
//   connects once (the [store] time-outs bound it), reads tm_schema_version WITHOUT
//   migrating (a daemon's first call would migrate; this does not), and the DSN is shown
//   without its password. Migrate applies what is pending, under the migration lock
//   (postgresql/pg_schema.h), and refuses a database migrated by a newer threadmill.
//
// THREADING
//   Each call opens and closes its own connection.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "store/environment.h"

namespace threadmill::store {

struct DatabaseStatus {
  std::string backend;       // "lmdb" | "postgresql"
  std::string target;        // "host=db port=5432 dbname=tm user=tm" (never a password)
  bool reachable = false;    // postgresql: connected and read the schema version
  std::string error;         // why not reachable
  int applied = 0;           // the highest migration applied (0: none, a new database)
  int expected = 0;          // this threadmill's schema version
  std::vector<int> pending;  // versions Migrate would apply, in order
  bool up_to_date() const { return reachable && applied == expected; }
};

// Never throws; an unreachable database is a status (reachable = false), not an error.
DatabaseStatus GetDatabaseStatus(const EnvOptions& options);

// Applies the pending migrations; the status afterwards. kTemporary when unreachable, kStore
// when the database is newer than this threadmill. lmdb: ok, nothing done.
Result<DatabaseStatus> MigrateDatabase(const EnvOptions& options);

}  // namespace threadmill::store
