#include "store/open_store.h"

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
    auto pg = pg::MakeProcessBackends(options.dsn, pool);
    (*env)->AttachSharedBackends(SharedBackends{pg.threads, pg.ledger, pg.stats});
  }
  return env;
}

}  // namespace threadmill::store
