// pg_schema.cc - see pg_schema.h.
#include "store/postgresql/pg_schema.h"

#include <cstdlib>
#include <string>

namespace threadmill::store::pg {
namespace {

// Any constant ("tdellm" as a number): the advisory lock all threadmill hosts take while migrating.
constexpr const char* kLockMigrations = "SELECT pg_advisory_xact_lock(127872223880045)";

constexpr const char* kVersionTable =
    "CREATE TABLE IF NOT EXISTS tm_schema_version ("
    " version integer PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE tm_message (
  msgid bytea NOT NULL,
  thread_id text NOT NULL,
  time bigint NOT NULL,
  record bytea NOT NULL
);
CREATE UNIQUE INDEX tm_message_msgid ON tm_message (sha256(msgid));
CREATE INDEX tm_message_thread ON tm_message (thread_id, time);
CREATE INDEX tm_message_time ON tm_message (time);
CREATE TABLE tm_thread (
  thread_id text PRIMARY KEY,
  record bytea NOT NULL
);
CREATE TABLE tm_thread_index (
  root bytea NOT NULL,
  thread_id text NOT NULL
);
CREATE UNIQUE INDEX tm_thread_index_root ON tm_thread_index (sha256(root));
CREATE INDEX tm_thread_index_thread ON tm_thread_index (thread_id);
CREATE TABLE tm_replied_once (
  message_id bytea NOT NULL,
  recipient bytea NOT NULL,
  entry bytea NOT NULL
);
CREATE UNIQUE INDEX tm_replied_once_key ON tm_replied_once (sha256(message_id), sha256(recipient));
CREATE TABLE tm_ledger (
  ns text NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL
);
CREATE UNIQUE INDEX tm_ledger_key ON tm_ledger (ns, sha256(key));
)sql"},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kPgSchemaVersion,
              "one migration per version");

}  // namespace

Result<int> SchemaVersion(PgConn& conn) {
  auto rows = conn.Simple("SELECT coalesce(max(version), 0)::int8 FROM tm_schema_version");
  if (!rows.ok()) return rows.error();
  // Simple() returns text columns.
  return static_cast<int>(std::strtol(std::string(rows->Bytes(0, 0)).c_str(), nullptr, 10));
}

Status Migrate(PgConn& conn) {
  if (auto b = conn.Simple("BEGIN"); !b.ok()) return b.error();
  Status st = [&]() -> Status {
    // A migration may rewrite big tables: no statement_timeout for this transaction.
    if (auto r = conn.Simple("SET LOCAL statement_timeout = 0"); !r.ok()) return r.error();
    if (auto r = conn.Simple(kLockMigrations); !r.ok()) return r.error();
    if (auto r = conn.Simple(kVersionTable); !r.ok()) return r.error();
    Result<int> current = SchemaVersion(conn);
    if (!current.ok()) return current.error();
    if (*current > kPgSchemaVersion) {
      return MakeError(ErrorCode::kStore,
                       "postgresql: the database has schema version " + std::to_string(*current) +
                           ", newer than this threadmill's " + std::to_string(kPgSchemaVersion) +
                           ": upgrade threadmill");
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= *current) continue;
      // Only the migration itself waits without a client-side bound (pg_conn.h LIMITS);
      // waiting for another host's migration lock above stays bounded.
      conn.set_bounded(false);
      auto applied = conn.Simple(m.sql);
      conn.set_bounded(true);
      if (!applied.ok()) return applied.error();
      if (auto r = conn.Simple("INSERT INTO tm_schema_version (version) VALUES (" +
                               std::to_string(m.version) + ")");
          !r.ok()) {
        return r.error();
      }
    }
    return {};
  }();
  if (!st.ok()) {
    (void)conn.Simple("ROLLBACK");
    return st;
  }
  if (auto c = conn.Simple("COMMIT"); !c.ok()) return c.error();
  return {};
}

}  // namespace threadmill::store::pg
