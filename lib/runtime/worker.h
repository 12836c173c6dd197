// worker.h - a handler worker process: runs jobs and heartbeats one at a time.
//
// DESCRIPTION
//   The supervisor forks workers (worker_pool.h) and talks to each over a SOCK_SEQPACKET
//   socket pair with the typed frames of worker_protocol.h: it sends kRunJob, kRunHeartbeat
//   or kExit; the worker answers each task with one kResult, and may send kReinjectStart /
//   kReinjectEnd around a reinjection (ReportReinjecting), and kRetiring before the result
//   of its last task when it will exit after it (memory).
//   A worker serves ONE handler instance (handler_registry.h): it loads that handler's module
//   itself, after fork, from the descriptor the supervisor's scan checked (loader.h
//   LoadModuleFile; the supervisor never maps module code, so a reload's new workers run the
//   new file), opens its own LMDB environment (with the configured [store] map sizes), calls
//   the handler's init() the first time it runs a task, and builds a fresh context per call.
//   A module that fails to load answers every task "retry module-not-loaded: WHY". It dies with
//   the supervisor (PR_SET_PDEATHSIG). A crash or hang of a handler kills only the worker;
//   the supervisor notices (EOF, SIGCHLD, time-out) and retries the job.
//   Memory: the pool sets RLIMIT_DATA to [handlers] worker_memory_mb; after each task a
//   worker whose private data (VmData) passed 3/4 of it reports its result, then exits with
//   kWorkerExitMemory and is replaced (a handler that goes past the limit sees its
//   allocations fail or crashes; the job is retried).
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/loader.h"
#include "runtime/runtime_config.h"

namespace threadmill::runtime {

// The exit status of a worker that left because it used too much memory.
inline constexpr int kWorkerExitMemory = 3;

// Runs the worker loop of handler `instance` on `fd` until kExit or EOF; returns the process
// exit status. `module` is the scanned file it loads (may be null: every task is retried).
int RunWorker(int fd, const std::string& instance, std::shared_ptr<const ModuleFile> module,
              std::shared_ptr<const RuntimeConfig> config, const LoaderOptions& options = {});

// Inside a worker, while it runs a job: tells the supervisor that a reply is being handed to
// sendmail now and may take up to `budget_seconds`, so the job time-out does not kill the
// worker in the middle (started = true), or that it is over (started = false). Returns
// false outside a worker. Thread-safe enough for the single-threaded worker.
bool ReportReinjecting(bool started, uint32_t budget_seconds = 0);

// Private data of the calling process in bytes (VmData of /proc/self/status), 0 if unknown.
uint64_t PrivateDataBytes();

}  // namespace threadmill::runtime
