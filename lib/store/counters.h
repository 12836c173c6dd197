// counters.h - durable counters shared by every threadmill process.
//
// DESCRIPTION
//   Events that happen outside the milter process (replies sent or refused by the workers,
//   job outcomes in the supervisor) are counted in the store's `meta` database, so the
//   daemon's /metrics endpoint and `threadmillctl stats` can report them whichever process
//   counted, and the totals survive restarts. Names are Prometheus series as written in the
//   text format, e.g. threadmill_replies_total{outcome="refused",reason="dmarc"}.
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
#include "store/environment.h"

namespace threadmill::store {

class Counters {
 public:
  explicit Counters(std::shared_ptr<Environment> env) : env_(std::move(env)) {}

  Status Add(std::string_view series, uint64_t n = 1);
  // Every counter, ordered by series name.
  Result<std::vector<std::pair<std::string, uint64_t>>> All() const;

 private:
  std::shared_ptr<Environment> env_;
};

}  // namespace threadmill::store
