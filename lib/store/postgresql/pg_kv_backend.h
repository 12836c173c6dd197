// pg_kv_backend.h - handler key/value records in PostgreSQL (table tm_kv, pg_schema.h), shared
// by every host: a value put by a handler on one MX host is read by the handler on another.
//
// DESCRIPTION
//   One statement per call (autocommit). tm_kv(handler, key, value, expires): handler and key
//   are bytea (any bytes), unique (handler, sha256(key)) finds a record by key of any length;
//   (handler, substring(key, 1, 1024)) serves List in key order from its start_after / prefix
//   bound (ties past 1024 bytes are sorted by the full key); a partial index on expires
//   serves SweepExpired.
//
// THREADING
//   Thread-safe: every call takes its own pooled connection.
//
// LIMITS
//   Two keys with the same SHA-256 would be one record. Expiry is decided by the caller's
//   clock (`now`), so hosts need synchronized clocks (NTP) for TTLs to agree.
#pragma once

#include <memory>

#include "store/kv_backend.h"
#include "store/postgresql/pg_pool.h"

namespace threadmill::store::pg {

class PgKvBackend final : public KvBackend {
 public:
  explicit PgKvBackend(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  Result<std::optional<std::string>> Get(std::string_view handler, std::string_view key,
                                         int64_t now) const override;
  Status Put(std::string_view handler, std::string_view key, std::string_view value,
             std::optional<int64_t> expiry) override;
  Result<bool> Delete(std::string_view handler, std::string_view key, int64_t now) override;
  Result<std::vector<KvEntry>> List(std::string_view handler,
                                    const KvListQuery& query) const override;
  Result<size_t> SweepExpired(int64_t now, size_t batch) override;

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace threadmill::store::pg
