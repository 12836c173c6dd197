// pg_kv_backend.cc - see pg_kv_backend.h.
#include "store/postgresql/pg_kv_backend.h"

#include <algorithm>
#include <limits>

namespace threadmill::store::pg {
namespace {

// How many leading key bytes the ordering index holds (a btree entry holds ~2.7 kB).
constexpr size_t kOrderBytes = 1024;

#define TM_KV_KEY " WHERE handler = $1 AND sha256(key) = sha256($2) AND key = $2"
#define TM_KV_LIVE " AND (expires IS NULL OR expires > $3)"

const Statement kGet{
    "tm_kv_get", "SELECT value FROM tm_kv" TM_KV_KEY TM_KV_LIVE, {kBytea, kBytea, kInt8}};
const Statement kPutExpiring{"tm_kv_put_expiring",
                             "INSERT INTO tm_kv (handler, key, value, expires) "
                             "VALUES ($1, $2, $3, $4) ON CONFLICT (handler, (sha256(key))) "
                             "DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires",
                             {kBytea, kBytea, kBytea, kInt8}};
const Statement kPutForever{"tm_kv_put_forever",
                            "INSERT INTO tm_kv (handler, key, value, expires) "
                            "VALUES ($1, $2, $3, NULL) ON CONFLICT (handler, (sha256(key))) "
                            "DO UPDATE SET value = EXCLUDED.value, expires = NULL",
                            {kBytea, kBytea, kBytea}};
const Statement kDelete{"tm_kv_delete",
                        "DELETE FROM tm_kv" TM_KV_KEY
                        " RETURNING (CASE WHEN expires IS NULL OR expires > $3 THEN 1 ELSE 0 "
                        "END)::int8",
                        {kBytea, kBytea, kInt8}};
// $2/$3: the ordering index's range; $4 start_after; $5 prefix; $6 now; $7 limit.
#define TM_KV_LIST_FROM                                                                  \
  " FROM tm_kv WHERE handler = $1 AND substring(key from 1 for 1024) >= $2"              \
  " AND substring(key from 1 for 1024) < $3 AND key > $4"                                \
  " AND substring(key from 1 for length($5)) = $5 AND (expires IS NULL OR expires > $6)" \
  " ORDER BY substring(key from 1 for 1024), key LIMIT $7"
const Statement kListKeys{"tm_kv_list_keys",
                          "SELECT key" TM_KV_LIST_FROM,
                          {kBytea, kBytea, kBytea, kBytea, kBytea, kInt8, kInt8}};
const Statement kListValues{"tm_kv_list_values",
                            "SELECT key, value" TM_KV_LIST_FROM,
                            {kBytea, kBytea, kBytea, kBytea, kBytea, kInt8, kInt8}};
const Statement kSweep{"tm_kv_sweep",
                       "DELETE FROM tm_kv WHERE ctid IN (SELECT ctid FROM tm_kv "
                       "WHERE expires <= $1 LIMIT $2)",
                       {kInt8, kInt8}};
#undef TM_KV_LIST_FROM
#undef TM_KV_LIVE
#undef TM_KV_KEY

// The smallest byte string greater than every string starting with `p` (cut to the index's
// bytes); one longer than any indexed value when there is none (p empty or all 0xff).
std::string UpperBound(std::string_view p) {
  std::string s(p.substr(0, kOrderBytes));
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xff) s.pop_back();
  if (s.empty()) return std::string(kOrderBytes + 1, '\xff');
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

int64_t Limit(size_t n) {
  return static_cast<int64_t>(std::min<size_t>(n, std::numeric_limits<int64_t>::max()));
}

}  // namespace

Result<std::optional<std::string>> PgKvBackend::Get(std::string_view handler, std::string_view key,
                                                    int64_t now) const {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kGet, {Param::Bytes(handler), Param::Bytes(key), Param::Int8(now)});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(rows->Bytes(0, 0)));
}

Status PgKvBackend::Put(std::string_view handler, std::string_view key, std::string_view value,
                        std::optional<int64_t> expiry) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  std::vector<Param> params{Param::Bytes(handler), Param::Bytes(key), Param::Bytes(value)};
  if (expiry) params.push_back(Param::Int8(*expiry));
  auto rows = (*conn)->Run(expiry ? kPutExpiring : kPutForever, params);
  if (!rows.ok()) return rows.error();
  return {};
}

Result<bool> PgKvBackend::Delete(std::string_view handler, std::string_view key, int64_t now) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kDelete, {Param::Bytes(handler), Param::Bytes(key), Param::Int8(now)});
  if (!rows.ok()) return rows.error();
  return rows->size() > 0 && rows->Int8(0, 0) == 1;
}

Result<std::vector<KvEntry>> PgKvBackend::List(std::string_view handler,
                                               const KvListQuery& query) const {
  const std::string_view lower = std::max(query.prefix, query.start_after);
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(
      query.include_values ? kListValues : kListKeys,
      {Param::Bytes(handler), Param::Bytes(lower.substr(0, kOrderBytes)),
       Param::Bytes(UpperBound(query.prefix)), Param::Bytes(query.start_after),
       Param::Bytes(query.prefix), Param::Int8(query.now), Param::Int8(Limit(query.limit))});
  if (!rows.ok()) return rows.error();
  std::vector<KvEntry> out;
  out.reserve(static_cast<size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(KvEntry{std::string(rows->Bytes(i, 0)),
                          query.include_values ? std::string(rows->Bytes(i, 1)) : std::string()});
  }
  return out;
}

Result<size_t> PgKvBackend::SweepExpired(int64_t now, size_t batch) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->Run(kSweep, {Param::Int8(now), Param::Int8(Limit(batch))});
  if (!rows.ok()) return rows.error();
  return static_cast<size_t>(rows->Affected());
}

}  // namespace threadmill::store::pg
