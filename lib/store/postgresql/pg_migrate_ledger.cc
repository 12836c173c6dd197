// pg_migrate_ledger.cc - see pg_migrate_lmdb.h: the replied-once / rate ledger kind, copied
// through the two LedgerBackends (so PostgreSQL's split of "once" keys and its unique
// (Message-ID, recipient) constraint apply as for the daemon's own writes).
#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/ledger_backend.h"
#include "store/lmdb_ledger_backend.h"
#include "store/postgresql/pg_ledger_backend.h"
#include "store/postgresql/pg_migrate_lmdb.h"

namespace threadmill::store::pg {
namespace {

// Every namespace of ledger_backend.h.
constexpr std::string_view kLedgerNamespaces[] = {kLedgerOnceNs, kLedgerRateNs,     kLedgerThreadNs,
                                                  kLedgerSendNs, kLedgerSendRateNs, kLedgerTurnNs};

using Entry = std::pair<std::string, std::string>;

// Copies the entries PostgreSQL lacks (one serializable transaction); how many.
Result<uint64_t> CopyEntries(PgLedgerBackend& to, std::string_view ns,
                             const std::vector<Entry>& entries, bool dry_run) {
  uint64_t copied = 0;
  auto body = [&](LedgerTxn& txn) -> Status {
    copied = 0;  // a retried transaction counts again
    for (const auto& [key, value] : entries) {
      Result<std::optional<std::string>> there = txn.Get(ns, key);
      if (!there.ok()) return there.error();
      if (there->has_value()) continue;
      if (!dry_run) {
        if (Status st = txn.Put(ns, key, value); !st.ok()) return st;
      }
      ++copied;
    }
    return {};
  };
  Status st = dry_run ? to.Read(body) : to.Write(body);
  if (!st.ok()) return st.error();
  return copied;
}

}  // namespace

Result<MigrateCount> MigrateLedger(const std::shared_ptr<Environment>& lmdb,
                                   const std::shared_ptr<PgPool>& pool, bool dry_run) {
  MigrateCount count{"ledger"};
  LmdbLedgerBackend from(lmdb);
  PgLedgerBackend to(pool);
  for (std::string_view ns : kLedgerNamespaces) {
    std::vector<Entry> entries;  // a namespace holds one entry per reply or sender: small
    Status read = from.Read([&](LedgerTxn& txn) -> Status {
      entries.clear();
      return txn.Scan(ns, [&](std::string_view key, std::string_view value) {
        entries.emplace_back(std::string(key), std::string(value));
        return true;
      });
    });
    if (!read.ok()) return read.error();
    count.found += entries.size();
    for (size_t at = 0; at < entries.size(); at += kMigrateBatch) {
      std::vector<Entry> batch(entries.begin() + static_cast<std::ptrdiff_t>(at),
                               entries.begin() + static_cast<std::ptrdiff_t>(
                                                     std::min(entries.size(), at + kMigrateBatch)));
      Result<uint64_t> copied = CopyEntries(to, ns, batch, dry_run);
      if (!copied.ok()) return copied.error();
      count.copied += *copied;
    }
  }
  return count;
}

}  // namespace threadmill::store::pg
