// database_admin.cc - see database_admin.h.
#include "store/database_admin.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>

#include "store/postgresql/pg_conn.h"
#include "store/postgresql/pg_schema.h"

namespace threadmill::store {
namespace {

// The DSN's host, port, database and user (PQconninfoParse), never its password.
std::string Target(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    if (error) PQfreemem(error);
    return "(unparsable DSN)";
  }
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    std::string key = o->keyword;
    if (key != "host" && key != "hostaddr" && key != "port" && key != "dbname" && key != "user" &&
        key != "sslmode") {
      continue;
    }
    if (o->val == nullptr || *o->val == '\0') continue;
    out += (out.empty() ? "" : " ") + key + "=" + o->val;
  }
  PQconninfoFree(options);
  return out.empty() ? "(libpq defaults)" : out;
}

Result<std::unique_ptr<pg::PgConn>> Connect(const EnvOptions& options) {
  pg::Timeouts timeouts;
  timeouts.connect_ms = options.connect_timeout_ms;
  timeouts.statement_ms = options.statement_timeout_ms;
  return pg::PgConn::Connect(options.dsn, timeouts);
}

// The applied version without creating anything (0 when tm_schema_version does not exist).
Result<int> AppliedVersion(pg::PgConn& conn) {
  auto exists = conn.Simple("SELECT to_regclass('tm_schema_version') IS NOT NULL");
  if (!exists.ok()) return exists.error();
  if (exists->Bytes(0, 0) != "t") return 0;
  return pg::SchemaVersion(conn);
}

void Fill(int applied, DatabaseStatus* s) {
  s->applied = applied;
  s->pending.clear();
  for (int v = applied + 1; v <= s->expected; ++v) s->pending.push_back(v);
}

DatabaseStatus Base(const EnvOptions& options) {
  DatabaseStatus s;
  s.backend = options.backend;
  if (options.backend == "postgresql") {
    s.target = Target(options.dsn);
    s.expected = pg::kPgSchemaVersion;
  }
  return s;
}

}  // namespace

DatabaseStatus GetDatabaseStatus(const EnvOptions& options) {
  DatabaseStatus s = Base(options);
  if (options.backend != "postgresql") return s;
  auto conn = Connect(options);
  if (!conn.ok()) {
    s.error = conn.error().message;
    return s;
  }
  auto applied = AppliedVersion(**conn);
  if (!applied.ok()) {
    s.error = applied.error().message;
    return s;
  }
  s.reachable = true;
  Fill(*applied, &s);
  return s;
}

Result<DatabaseStatus> MigrateDatabase(const EnvOptions& options) {
  DatabaseStatus s = Base(options);
  if (options.backend != "postgresql") return s;
  auto conn = Connect(options);
  if (!conn.ok()) return conn.error();
  if (Status st = pg::Migrate(**conn); !st.ok()) return st.error();
  auto applied = AppliedVersion(**conn);
  if (!applied.ok()) return applied.error();
  s.reachable = true;
  Fill(*applied, &s);
  return s;
}

}  // namespace threadmill::store
