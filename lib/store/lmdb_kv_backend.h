// lmdb_kv_backend.h - handler key/value records in the `kv` and `kv_ttl` LMDB databases.
//
// DESCRIPTION
//   The layout threadmill always had: kv key = handler + '\0' + StoreKey(key) (keys.h: keys
//   longer than kMaxDirectKeyBytes, or starting with '\x01', are stored hashed with the full
//   key in the value), kv_ttl = kv key -> 8-byte expiry for records with a TTL.
//
// THREADING
//   Thread-safe; never call from inside Environment::Read/Write callbacks.
//
// LIMITS
//   One host. List scans all of a handler's hashed keys (cost grows with their number).
//   SweepExpired scans only the records that have a TTL.
#pragma once

#include <memory>

#include "store/environment.h"
#include "store/kv_backend.h"

namespace threadmill::store {

class LmdbKvBackend final : public KvBackend {
 public:
  explicit LmdbKvBackend(std::shared_ptr<Environment> env) : env_(std::move(env)) {}

  Result<std::optional<std::string>> Get(std::string_view handler, std::string_view key,
                                         int64_t now) const override;
  Status Put(std::string_view handler, std::string_view key, std::string_view value,
             std::optional<int64_t> expiry) override;
  Result<bool> Delete(std::string_view handler, std::string_view key, int64_t now) override;
  Result<std::vector<KvEntry>> List(std::string_view handler,
                                    const KvListQuery& query) const override;
  Result<size_t> SweepExpired(int64_t now, size_t batch) override;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
