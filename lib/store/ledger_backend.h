// ledger_backend.h - the replied-once / rate ledger's storage as an interface: small
// namespaced key -> value entries read and written in transactions.
//
// DESCRIPTION
//   reply::ReplyLedger (lib/reply/ledger.h) keeps its decisions (once per message and
//   recipient, rate limits, send-once) as entries under the namespaces below and runs every
//   decision as ONE transaction of a LedgerBackend. Implementations:
//     LmdbLedgerBackend   the `replied` database of the LMDB environment (lmdb_ledger_backend.h)
//     PgLedgerBackend     PostgreSQL (postgresql/pg_ledger_backend.h): "once" entries live in
//                         a table whose primary key (message_id, recipient) is the
//                         at-most-one-reply guarantee across hosts.
//   A write transaction is serializable: its reads and writes take effect together or not at
//   all, as if no other transaction ran meanwhile. A backend may run `fn` more than once
//   (retry after a conflict with another host), so `fn` must reset what it fills in.
//
// THREADING
//   Implementations are thread-safe; a LedgerTxn is used only inside its callback.
//
// LIMITS
//   ns is one of the k*Ns constants; keys are 1..4096+ bytes of any value except that a
//   "once" key is message_id '\0' recipient. Scan visits one namespace in key byte order
//   (LMDB: hashed long keys after the short ones, see keys.h). Entries that cannot be
//   decoded are skipped by Scan.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace threadmill::store {

inline constexpr std::string_view kLedgerOnceNs{"once\0", 5};
inline constexpr std::string_view kLedgerRateNs{"rate\0", 5};
inline constexpr std::string_view kLedgerThreadNs{"thread\0", 7};
inline constexpr std::string_view kLedgerSendNs{"send\0", 5};
inline constexpr std::string_view kLedgerSendRateNs{"sendrate\0", 9};
inline constexpr std::string_view kLedgerTurnNs{"turn\0", 5};

class LedgerTxn {
 public:
  virtual ~LedgerTxn() = default;
  virtual Result<std::optional<std::string>> Get(std::string_view ns,
                                                 std::string_view key) const = 0;
  // Write transactions only (kInternal in a read transaction). Replaces an existing value.
  virtual Status Put(std::string_view ns, std::string_view key, std::string_view value) = 0;
  // Write transactions only. False when absent.
  virtual Result<bool> Del(std::string_view ns, std::string_view key) = 0;
  // Visits the entries of `ns` in key order until `visit` returns false.
  virtual Status Scan(
      std::string_view ns,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const = 0;
};

class LedgerBackend {
 public:
  virtual ~LedgerBackend() = default;
  virtual Status Read(const std::function<Status(LedgerTxn&)>& fn) const = 0;
  // Commits when fn returns ok, rolls back otherwise (fn's error is returned).
  virtual Status Write(const std::function<Status(LedgerTxn&)>& fn) = 0;
};

}  // namespace threadmill::store
