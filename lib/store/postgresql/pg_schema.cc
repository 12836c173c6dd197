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
    {2, R"sql(
CREATE TABLE tm_kv (
  handler bytea NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  expires bigint
);
CREATE UNIQUE INDEX tm_kv_key ON tm_kv (handler, sha256(key));
CREATE INDEX tm_kv_order ON tm_kv (handler, substring(key from 1 for 1024));
CREATE INDEX tm_kv_expires ON tm_kv (expires) WHERE expires IS NOT NULL;
CREATE TABLE tm_counter (
  series bytea PRIMARY KEY,
  value bigint NOT NULL
);
CREATE TABLE tm_draft (
  id text COLLATE "C" PRIMARY KEY,
  handler text NOT NULL,
  state text NOT NULL,
  created bigint NOT NULL,
  updated bigint NOT NULL,
  record bytea NOT NULL
);
CREATE INDEX tm_draft_state ON tm_draft (state, id);
CREATE INDEX tm_draft_handler ON tm_draft (handler, id);
CREATE INDEX tm_draft_decided ON tm_draft (updated) WHERE state <> 'draft_for_approval';
CREATE TABLE tm_sweep_lease (
  name text PRIMARY KEY,
  host text NOT NULL,
  until bigint NOT NULL
);
)sql"},
    // The shared job queue (job_backend.h): jobs with leases, their messages shared by the
    // jobs of one message, (Message-ID, recipient, handler) unique while a job is kept.
    {3, R"sql(
CREATE TABLE tm_job (
  id text PRIMARY KEY,
  handler text NOT NULL,
  state text NOT NULL,
  attempts bigint NOT NULL,
  next_try bigint NOT NULL,
  updated bigint NOT NULL,
  last_error text NOT NULL,
  lease_host text,
  lease_until bigint,
  message_id bytea NOT NULL,
  recipient bytea NOT NULL,
  msg_ref text NOT NULL,
  record bytea NOT NULL
);
CREATE UNIQUE INDEX tm_job_dedupe ON tm_job (sha256(message_id), sha256(recipient), handler)
  WHERE message_id <> ''::bytea;
CREATE INDEX tm_job_due ON tm_job (handler, state, next_try);
CREATE INDEX tm_job_state_next ON tm_job (state, next_try);
CREATE INDEX tm_job_lease ON tm_job (state, lease_until) WHERE state = 'R';
CREATE INDEX tm_job_updated ON tm_job (state, updated);
CREATE INDEX tm_job_msg_ref ON tm_job (msg_ref);
CREATE TABLE tm_job_message (
  ref text PRIMARY KEY,
  raw bytea NOT NULL
);
)sql"},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kPgSchemaVersion,
              "one migration per version");

}  // namespace

Result<int> SchemaVersion(PgConn& conn) {
  // to_regclass needs no privilege: a database nobody migrated yet is version 0.
  auto exists = conn.Simple("SELECT to_regclass('tm_schema_version') IS NOT NULL");
  if (!exists.ok()) return exists.error();
  if (exists->Bytes(0, 0) != "t") return 0;
  auto rows = conn.Simple("SELECT coalesce(max(version), 0)::int8 FROM tm_schema_version");
  if (!rows.ok()) return rows.error();
  // Simple() returns text columns.
  return static_cast<int>(std::strtol(std::string(rows->Bytes(0, 0)).c_str(), nullptr, 10));
}

namespace {

Status RefuseNewer(int current) {
  return MakeError(ErrorCode::kStore,
                   "postgresql: the database has schema version " + std::to_string(current) +
                       ", newer than this threadmill's " + std::to_string(kPgSchemaVersion) +
                       ": upgrade threadmill");
}

}  // namespace

Status Migrate(PgConn& conn) {
  // The usual case costs one read and no DDL, so a least-privilege role (DML grants only)
  // can run threadmill once the owner migrated (`threadmillctl db migrate`).
  Result<int> seen = SchemaVersion(conn);
  if (!seen.ok()) return seen.error();
  if (*seen == kPgSchemaVersion) return {};
  if (*seen > kPgSchemaVersion) return RefuseNewer(*seen);
  if (auto b = conn.Simple("BEGIN"); !b.ok()) return b.error();
  Status st = [&]() -> Status {
    // A migration may rewrite big tables: no statement_timeout for this transaction.
    if (auto r = conn.Simple("SET LOCAL statement_timeout = 0"); !r.ok()) return r.error();
    if (auto r = conn.Simple(kLockMigrations); !r.ok()) return r.error();
    if (auto r = conn.Simple(kVersionTable); !r.ok()) return r.error();
    Result<int> current = SchemaVersion(conn);
    if (!current.ok()) return current.error();
    if (*current > kPgSchemaVersion) return RefuseNewer(*current);
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
    if (st.error().message.find("permission denied") != std::string::npos) {
      return MakeError(ErrorCode::kStore,
                       "postgresql: the database has schema version " + std::to_string(*seen) +
                           ", this threadmill needs " + std::to_string(kPgSchemaVersion) +
                           " and this role may not create tables: run `threadmillctl db "
                           "migrate` with the schema owner's DSN (" +
                           st.error().message + ")");
    }
    return st;
  }
  if (auto c = conn.Simple("COMMIT"); !c.ok()) return c.error();
  return {};
}

}  // namespace threadmill::store::pg
