#include "store/open_store.h"

#include "store/host_id.h"
#include "store/postgresql/pg_process_backends.h"

namespace threadmill::store {

Result<std::shared_ptr<Environment>> OpenStore(const EnvOptions& options) {
  if (options.backend != "lmdb" && options.backend != "postgresql") {
    return Error{ErrorCode::kInvalidInput, "unknown store backend \"" + options.backend + "\""};
  }
  auto env = Environment::Open(options);
  if (!env.ok()) return env.error();
  // Environment::Open returns the one open environment of this directory: attach once.
  if (options.backend == "postgresql" && !(*env)->shared_backends().threads) {
    pg::PgPool::Options pool;
    pool.timeouts.connect_ms = options.connect_timeout_ms;
    pool.timeouts.statement_ms = options.statement_timeout_ms;
    auto pg = pg::MakeProcessBackends(options.dsn, HostId(options), pool,
                                      options.retention_seconds);
    (*env)->AttachSharedBackends(SharedBackends{pg.threads, pg.ledger, pg.kv, pg.counters,
                                                pg.drafts, pg.sweep_lease, pg.jobs, pg.stats,
                                                pg.census});
  }
  return env;
}

}  // namespace threadmill::store
