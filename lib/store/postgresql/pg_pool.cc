// pg_pool.cc - see pg_pool.h.
#include "store/postgresql/pg_pool.h"

#include <chrono>
#include <utility>

#include "store/postgresql/pg_schema.h"

namespace threadmill::store::pg {

PgPool::Lease::~Lease() {
  if (pool_ && conn_) {
    pool_->round_trips_ += conn_->round_trips() - round_trips_at_start_;
    pool_->Release(std::move(conn_));
  }
}

Result<std::shared_ptr<PgPool>> PgPool::Open(const std::string& dsn, Options options) {
  std::shared_ptr<PgPool> pool(new PgPool(dsn, options));
  Result<Lease> lease = pool->Acquire();
  if (!lease.ok()) return lease.error();
  if (Status st = Migrate(**lease); !st.ok()) return st.error();
  return pool;
}

namespace {
int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Result<PgPool::Lease> PgPool::Acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<PgConn> conn = std::move(idle_.back());
      idle_.pop_back();
      conn->MarkReused();
      ++stats_.in_use;
      return Lease(shared_from_this(), std::move(conn));
    }
    int64_t now = SteadyMs();
    if (now < retry_at_ms_) {
      return MakeError(ErrorCode::kTemporary, "postgresql: unavailable, next connect in " +
                                                  std::to_string(retry_at_ms_ - now) + " ms (" +
                                                  last_error_ + ")");
    }
  }
  Result<std::unique_ptr<PgConn>> conn = PgConn::Connect(dsn_, options_.timeouts);
  std::lock_guard lock(mutex_);
  if (!conn.ok()) {
    ++stats_.connect_failures;
    retry_at_ms_ = SteadyMs() + options_.retry_after_ms;
    last_error_ = conn.error().message;
    return conn.error();
  }
  ++stats_.connects;
  ++stats_.in_use;
  return Lease(shared_from_this(), std::move(*conn));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  std::lock_guard lock(mutex_);
  if (stats_.in_use > 0) --stats_.in_use;
  if (conn->timed_out()) {
    ++stats_.timeouts;
    retry_at_ms_ = SteadyMs() + options_.retry_after_ms;
    last_error_ = "the last statement got no answer in time";
  }
  if (conn->broken()) {
    idle_.clear();  // the server went away (restart, fail-over): the others are stale too
    return;
  }
  if (!conn->healthy()) return;
  if (idle_.size() < options_.max_idle) idle_.push_back(std::move(conn));
}

PgPool::Stats PgPool::stats() const {
  std::lock_guard lock(mutex_);
  Stats out = stats_;
  out.idle = idle_.size();
  return out;
}

}  // namespace threadmill::store::pg
