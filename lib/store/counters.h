// counters.h - durable counters shared by every threadmill process.
//
// DESCRIPTION
//   Events that happen outside the milter process (replies sent or refused by the workers,
//   job outcomes in the supervisor) are counted in the store's `meta` database, so the
//   daemon's /metrics endpoint and `threadmillctl stats` can report them whichever process
//   counted, and the totals survive restarts. Names are Prometheus series as written in the
//   text format, e.g. threadmill_replies_total{outcome="refused",reason="dmarc"}.
//   Stored by a CountersBackend (counters_backend.h): the LMDB `meta` database, or with
//   [store] backend = "postgresql" the shared tm_counter table, so the totals are those of
//   every host.
//
// THREADING
//   Thread- and process-safe (one short write transaction per Add). Meant for events that are
//   rare next to messages (replies, job outcomes), not for the per-message hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/counters_backend.h"
#include "store/environment.h"

namespace threadmill::store {

class Counters {
 public:
  // The environment's attached counters backend (environment.h SHARED BACKENDS), else its
  // LMDB `meta` database.
  explicit Counters(std::shared_ptr<Environment> env);
  explicit Counters(std::shared_ptr<CountersBackend> backend) : backend_(std::move(backend)) {}

  Status Add(std::string_view series, uint64_t n = 1) { return backend_->Add(series, n); }
  // Every counter, ordered by series name.
  Result<std::vector<std::pair<std::string, uint64_t>>> All() const { return backend_->All(); }

 private:
  std::shared_ptr<CountersBackend> backend_;
};

}  // namespace threadmill::store
