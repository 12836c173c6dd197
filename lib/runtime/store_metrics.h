// store_metrics.h - the shared store backend's figures (PostgreSQL) in the Prometheus text
// format, for the /metrics of the process that made the calls.
//
// DESCRIPTION
//   Per process (each process has its own pool, store/postgresql/pg_process_backends.h):
//     threadmill_store_backend_up{backend}          1 when the last call succeeded
//     threadmill_store_calls_total{op}              calls by operation (find_message, ...)
//     threadmill_store_errors_total{op}             of which failed
//     threadmill_store_call_seconds{op} (summary)   _sum and _count of the calls' durations
//     threadmill_store_connections{state}           idle / busy pooled connections
//     threadmill_store_connects_total, threadmill_store_connect_failures_total,
//     threadmill_store_timeouts_total               connections opened, failed, abandoned
//   Nothing for the LMDB backend (its figures are threadmill_store_map_bytes and the
//   decision counters).
#pragma once

#include <string>

#include "store/environment.h"

namespace threadmill::runtime {

std::string RenderStoreBackendMetrics(const store::BackendStats& stats);
// The stats of env's shared backends, rendered; "" without shared backends.
std::string RenderStoreBackendMetrics(const store::Environment& env);

}  // namespace threadmill::runtime
