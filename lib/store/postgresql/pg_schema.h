// pg_schema.h - threadmill's tables in PostgreSQL and their versioned migrations.
//
// DESCRIPTION
//   tm_schema_version(version, applied_at) lists the migrations applied. Migrate() first
//   reads the version without DDL: a current database costs one query and no privilege
//   beyond SELECT, so the daemon can run as a least-privilege role (DML grants only) once
//   the schema owner has migrated. Otherwise it takes a transaction-scoped advisory lock
//   (several hosts starting at once migrate one after the other), applies every migration
//   newer than the highest applied one, each in the same transaction as its version row,
//   and refuses a database migrated by a newer threadmill. A role that may not create
//   tables gets an error naming `threadmillctl db migrate`.
//
//   Version 1 (the thread store and the reply ledger, lib/store/thread_backend.h,
//   ledger_backend.h). Records are the JSON of records.h, so both backends store the same
//   bytes; keys of any length are unique through sha256() indexes (a btree entry holds at
//   most ~2.7 kB, a Message-ID may have 4096 bytes):
//     tm_message(msgid, thread_id, time, record)   unique sha256(msgid); (thread_id, time)
//                                                  for a thread's messages; (time) for Sweep
//     tm_thread(thread_id PK, record)
//     tm_thread_index(root, thread_id)             unique sha256(root); (thread_id)
//     tm_replied_once(message_id, recipient, entry) UNIQUE (sha256(message_id),
//                                                  sha256(recipient)): at most one reply per
//                                                  inbound message and recipient, whichever
//                                                  host asks
//     tm_ledger(ns, key, value)                    the other ledger namespaces (rate, thread,
//                                                  turn, send, sendrate); unique (ns, sha256(key))
//   Version 2 (handler KV, counters, drafts, sweep leases: kv_backend.h, counters_backend.h,
//   draft_backend.h, sweep_lease.h):
//     tm_kv(handler, key, value, expires)          unique (handler, sha256(key)); (handler,
//                                                  substring(key, 1, 1024)) for List in key
//                                                  order; (expires) WHERE NOT NULL for the sweep
//     tm_counter(series PK, value)                 series bytea: byte order
//     tm_draft(id PK COLLATE "C", handler, state,  (state, id) for listing by state; (handler,
//              created, updated, record)           id); (updated) WHERE decided for the sweep
//     tm_sweep_lease(name PK, host, until)         which host runs a shared sweep until when
//   Version 3, the shared job queue (store/job_backend.h):
//     tm_job(id PK, handler, state, attempts, next_try, updated, last_error, lease_host,
//            lease_until, message_id, recipient, msg_ref, record)
//                                                  UNIQUE (sha256(message_id), sha256(recipient),
//                                                  handler) where message_id <> '': one job per
//                                                  routed message, recipient and handler in total;
//                                                  (handler, state, next_try) for claims, (state,
//                                                  lease_until) for expired leases, (state,
//                                                  updated) for the done sweep, (msg_ref)
//     tm_job_message(ref PK, raw)                  the raw message, one per message (ref = the
//                                                  id of its first job)
//
// LIMITS
//   PostgreSQL >= 11 (sha256()). Migrations only go forward.
#pragma once

#include "common/result.h"
#include "store/postgresql/pg_conn.h"

namespace threadmill::store::pg {

inline constexpr int kPgSchemaVersion = 3;

// Brings the database to kPgSchemaVersion. kStore when it is newer.
Status Migrate(PgConn& conn);

// The highest applied version (0: none).
Result<int> SchemaVersion(PgConn& conn);

}  // namespace threadmill::store::pg
