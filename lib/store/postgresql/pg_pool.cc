// pg_pool.cc - see pg_pool.h.
#include "store/postgresql/pg_pool.h"

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

Result<PgPool::Lease> PgPool::Acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<PgConn> conn = std::move(idle_.back());
      idle_.pop_back();
      conn->MarkReused();
      return Lease(shared_from_this(), std::move(conn));
    }
  }
  Result<std::unique_ptr<PgConn>> conn = PgConn::Connect(dsn_, options_.statement_timeout_ms);
  if (!conn.ok()) return conn.error();
  return Lease(shared_from_this(), std::move(*conn));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  std::lock_guard lock(mutex_);
  if (conn->broken()) {
    idle_.clear();  // the server went away (restart, fail-over): the others are stale too
    return;
  }
  if (!conn->healthy()) return;
  if (idle_.size() < options_.max_idle) idle_.push_back(std::move(conn));
}

}  // namespace threadmill::store::pg
