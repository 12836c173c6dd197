// pg_ledger_backend.cc - see pg_ledger_backend.h.
#include "store/postgresql/pg_ledger_backend.h"

#include <utility>
#include <vector>

namespace threadmill::store::pg {
namespace {

#define TM_ONCE_WHERE                                                         \
  " WHERE sha256(message_id) = sha256($1) AND sha256(recipient) = sha256($2)" \
  " AND message_id = $1 AND recipient = $2"

const Statement kOnceGet{
    "tm_once_get", "SELECT entry FROM tm_replied_once" TM_ONCE_WHERE, {kBytea, kBytea}};
const Statement kOncePut{"tm_once_put",
                         "INSERT INTO tm_replied_once (message_id, recipient, entry) "
                         "VALUES ($1, $2, $3) "
                         "ON CONFLICT ((sha256(message_id)), (sha256(recipient))) "
                         "DO UPDATE SET entry = EXCLUDED.entry",
                         {kBytea, kBytea, kBytea}};
const Statement kOnceDel{
    "tm_once_del", "DELETE FROM tm_replied_once" TM_ONCE_WHERE, {kBytea, kBytea}};
const Statement kOnceScan{"tm_once_scan",
                          "SELECT message_id, recipient, entry FROM tm_replied_once "
                          "WHERE (message_id, recipient) > ($1, $2) "
                          "ORDER BY message_id, recipient LIMIT $3",
                          {kBytea, kBytea, kInt8}};
#undef TM_ONCE_WHERE

const Statement kKvGet{
    "tm_ledger_get",
    "SELECT value FROM tm_ledger WHERE ns = $1 AND sha256(key) = sha256($2) AND key = $2",
    {kText, kBytea}};
const Statement kKvPut{"tm_ledger_put",
                       "INSERT INTO tm_ledger (ns, key, value) VALUES ($1, $2, $3) "
                       "ON CONFLICT (ns, (sha256(key))) DO UPDATE SET value = EXCLUDED.value",
                       {kText, kBytea, kBytea}};
const Statement kKvDel{
    "tm_ledger_del",
    "DELETE FROM tm_ledger WHERE ns = $1 AND sha256(key) = sha256($2) AND key = $2",
    {kText, kBytea}};
const Statement kKvScan{"tm_ledger_scan",
                        "SELECT key, value FROM tm_ledger WHERE ns = $1 AND key > $2 "
                        "ORDER BY key LIMIT $3",
                        {kText, kBytea, kInt8}};

bool IsOnce(std::string_view ns) { return ns == kLedgerOnceNs; }

// The namespace as stored in the text column: without its '\0' terminator.
std::string NsColumn(std::string_view ns) {
  if (!ns.empty() && ns.back() == '\0') ns.remove_suffix(1);
  return std::string(ns);
}

// A "once" key split into message id and recipient.
Result<std::pair<std::string_view, std::string_view>> SplitOnce(std::string_view key) {
  size_t nul = key.find('\0');
  if (nul == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidInput,
                     "replied: a once key needs message id \\0 recipient");
  }
  return std::make_pair(key.substr(0, nul), key.substr(nul + 1));
}

class PgLedgerTxn final : public LedgerTxn {
 public:
  PgLedgerTxn(PgConn& conn, bool writable) : conn_(conn), writable_(writable) {}

  Result<std::optional<std::string>> Get(std::string_view ns, std::string_view key) const override {
    Result<Rows> rows = Lookup(ns, key, kOnceGet, kKvGet);
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(rows->Bytes(0, 0)));
  }

  Status Put(std::string_view ns, std::string_view key, std::string_view value) override {
    if (!writable_) return ReadOnly();
    std::vector<Param> params;
    if (IsOnce(ns)) {
      auto parts = SplitOnce(key);
      if (!parts.ok()) return parts.error();
      params = {Param::Bytes(parts->first), Param::Bytes(parts->second), Param::Bytes(value)};
    } else {
      params = {Param::Bytes(NsColumn(ns)), Param::Bytes(key), Param::Bytes(value)};
    }
    Result<Rows> rows = conn_.Run(IsOnce(ns) ? kOncePut : kKvPut, params);
    if (!rows.ok()) return rows.error();
    return {};
  }

  Result<bool> Del(std::string_view ns, std::string_view key) override {
    if (!writable_) return ReadOnly();
    Result<Rows> rows = Lookup(ns, key, kOnceDel, kKvDel);
    if (!rows.ok()) return rows.error();
    return rows->Affected() > 0;
  }

  Status Scan(std::string_view ns,
              const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    const bool once = IsOnce(ns);
    std::string after_a, after_b;  // the last key seen (once: message id, recipient)
    for (;;) {
      Result<Rows> rows =
          once ? conn_.Run(kOnceScan,
                           {Param::Bytes(after_a), Param::Bytes(after_b), Param::Int8(kScanPage)})
               : conn_.Run(kKvScan, {Param::Bytes(NsColumn(ns)), Param::Bytes(after_a),
                                     Param::Int8(kScanPage)});
      if (!rows.ok()) return rows.error();
      for (int i = 0; i < rows->size(); ++i) {
        std::string key(rows->Bytes(i, 0));
        if (once) {
          after_a = key;
          after_b = std::string(rows->Bytes(i, 1));
          key += '\0';
          key += after_b;
        } else {
          after_a = key;
        }
        if (!visit(key, rows->Bytes(i, once ? 2 : 1))) return {};
      }
      if (rows->size() < kScanPage) return {};
    }
  }

 private:
  Result<Rows> Lookup(std::string_view ns, std::string_view key, const Statement& once_st,
                      const Statement& kv_st) const {
    if (IsOnce(ns)) {
      auto parts = SplitOnce(key);
      if (!parts.ok()) return parts.error();
      return conn_.Run(once_st, {Param::Bytes(parts->first), Param::Bytes(parts->second)});
    }
    return conn_.Run(kv_st, {Param::Bytes(NsColumn(ns)), Param::Bytes(key)});
  }
  static Error ReadOnly() {
    return MakeError(ErrorCode::kInternal, "replied: write in a read transaction");
  }

  PgConn& conn_;
  const bool writable_;
};

}  // namespace

PgLedgerBackend::PgLedgerBackend(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Status PgLedgerBackend::Read(const std::function<Status(LedgerTxn&)>& fn) const {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  PgLedgerTxn txn(**conn, false);
  return (*conn)->Transact(TxnMode::kReadOnly, [&] { return fn(txn); });
}

Status PgLedgerBackend::Write(const std::function<Status(LedgerTxn&)>& fn) {
  Result<PgPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  PgLedgerTxn txn(**conn, true);
  return (*conn)->Transact(TxnMode::kSerializable, [&] { return fn(txn); });
}

}  // namespace threadmill::store::pg
