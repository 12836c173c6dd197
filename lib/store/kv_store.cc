// kv_store.cc - see kv_store.h.
#include "store/kv_store.h"

#include <algorithm>
#include <chrono>

#include "store/lmdb_kv_backend.h"

namespace threadmill::store {
namespace {

Status ValidateHandler(std::string_view handler) {
  bool ok = !handler.empty() && handler.size() <= kMaxHandlerNameBytes;
  for (unsigned char c : handler) ok = ok && c >= 0x20 && c != 0x7f;
  if (!ok) return MakeError(ErrorCode::kInvalidInput, "kv: invalid handler name");
  return {};
}

Status ValidateKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKvKeyBytes) {
    return MakeError(ErrorCode::kInvalidInput,
                     "kv: key must be 1.." + std::to_string(kMaxKvKeyBytes) + " bytes");
  }
  return {};
}

Status Validate(std::string_view handler, std::string_view key) {
  if (Status st = ValidateHandler(handler); !st.ok()) return st;
  return ValidateKey(key);
}

std::shared_ptr<KvBackend> BackendOf(std::shared_ptr<Environment> env) {
  if (auto shared = env->shared_backends().kv) return shared;
  return std::make_shared<LmdbKvBackend>(std::move(env));
}

}  // namespace

KvStore::KvStore(std::shared_ptr<Environment> env, Clock clock)
    : backend_(BackendOf(std::move(env))), clock_(std::move(clock)) {}

KvStore::KvStore(std::shared_ptr<KvBackend> backend, Clock clock)
    : backend_(std::move(backend)), clock_(std::move(clock)) {}

int64_t KvStore::Now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::optional<std::string>> KvStore::Get(std::string_view handler,
                                                std::string_view key) const {
  if (Status st = Validate(handler, key); !st.ok()) return st.error();
  return backend_->Get(handler, key, Now());
}

Status KvStore::Put(std::string_view handler, std::string_view key, std::string_view value,
                    uint64_t ttl_seconds) {
  if (Status st = Validate(handler, key); !st.ok()) return st;
  if (value.size() > kMaxKvValueBytes) {
    return MakeError(ErrorCode::kInvalidInput,
                     "kv: value larger than " + std::to_string(kMaxKvValueBytes) + " bytes");
  }
  std::optional<int64_t> expiry;
  if (ttl_seconds > 0) {
    expiry = Now() + static_cast<int64_t>(std::min(ttl_seconds, kMaxKvTtlSeconds));
  }
  return backend_->Put(handler, key, value, expiry);
}

Result<bool> KvStore::Delete(std::string_view handler, std::string_view key) {
  if (Status st = Validate(handler, key); !st.ok()) return st.error();
  return backend_->Delete(handler, key, Now());
}

Result<std::vector<KvEntry>> KvStore::List(std::string_view handler, std::string_view prefix,
                                           size_t limit, bool include_values,
                                           std::string_view start_after) const {
  if (Status st = ValidateHandler(handler); !st.ok()) return st.error();
  if (prefix.size() > kMaxKvKeyBytes) {
    return MakeError(ErrorCode::kInvalidInput, "kv: prefix too long");
  }
  if (start_after.size() > kMaxKvKeyBytes) {
    return MakeError(ErrorCode::kInvalidInput, "kv: start_after too long");
  }
  KvListQuery query;
  query.prefix = prefix;
  query.start_after = start_after;
  query.limit = EffectiveListLimit(limit);
  query.include_values = include_values;
  query.now = Now();
  return backend_->List(handler, query);
}

Result<size_t> KvStore::SweepExpired(size_t batch) { return backend_->SweepExpired(Now(), batch); }

}  // namespace threadmill::store
