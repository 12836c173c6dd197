// pg_ledger_backend.h - the reply ledger (ledger_backend.h) in a shared PostgreSQL database:
// a message answered through one MX host is not answered again through another.
//
// DESCRIPTION
//   "once" entries (key = message_id '\0' recipient) live in tm_replied_once, whose unique
//   index on (message_id, recipient) makes "at most one reply per inbound message and
//   recipient" a database constraint; the other namespaces in tm_ledger (pg_schema.h).
//   Write transactions are SERIALIZABLE and retried on conflict (pg_conn.h): when two hosts
//   claim the same reply at once, one commits and the other's retry sees its entry (Claim
//   answers "already-replied" or resumes the stored message). Read transactions are
//   REPEATABLE READ READ ONLY: one snapshot.
//
// THREADING
//   Thread-safe: every transaction takes its own pooled connection.
//
// LIMITS
//   A "once" key without '\0' is refused (kInvalidInput). Scan pages through a namespace
//   kScanPage rows at a time by key (no time index: ListOwed and Sweep read whole
//   namespaces).
#pragma once

#include <memory>

#include "store/ledger_backend.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

inline constexpr int64_t kScanPage = 500;

class PgLedgerBackend final : public LedgerBackend {
 public:
  explicit PgLedgerBackend(std::shared_ptr<PgPool> pool);
  Status Read(const std::function<Status(LedgerTxn&)>& fn) const override;
  Status Write(const std::function<Status(LedgerTxn&)>& fn) override;

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace threadmill::store::pg
