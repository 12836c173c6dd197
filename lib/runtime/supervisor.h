// supervisor.h - the handler supervisor process: job dispatch, worker pool, retries.
//
// DESCRIPTION
//   StartSupervisor forks the supervisor from the milter daemon; call it before any thread
//   exists and before the daemon opens the store (LMDB must be opened after fork()). The
//   supervisor:
//     - takes <spool>/supervisor.lock (waits up to 60 s for a previous one to go away: an
//       flock the kernel releases when the holder dies, so a kill -9 never leaves it stale);
//     - drops to [milter] user when started as root, after handing it the store directory
//       (common/privileges.h, common/chown_tree.h: the daemon's drop); refuses to start when
//       that user or group does not exist;
//     - opens its own store environment; puts jobs left "running" back in the queue;
//     - scans [handlers] dir (module_catalog.h: checked, probed in a child, never loaded in
//       the supervisor) and derives the handler instances (handler_registry.h: [handler.X]
//       module = "M" runs module M as handler X); a route or `module` that names nothing
//       loaded is logged as an error and its jobs wait, reported in the log (at start, at
//       reload, then every minute) and by `threadmillctl queue list` (handler_status.h);
//     - runs a worker pool PER HANDLER: [handler.NAME] workers, job_timeout_seconds and
//       recycle_after_jobs, each defaulting to [runtime]'s. A worker loads only its handler's
//       module (worker.h), so a handler that hangs or crashes holds or restarts only its own
//       workers; due jobs are claimed per handler (JobQueue::ClaimDue with a capacity per
//       handler), so one handler's backlog never holds back another's jobs. A job whose worker
//       crashes (signal, exit) or exceeds its handler's job_timeout_seconds (SIGKILL) is
//       retried with exponential backoff and parked after max_attempts; a worker is replaced
//       after its handler's recycle_after_jobs jobs;
//     - calls on_heartbeat of handlers that have one every heartbeat_seconds, on one of
//       that handler's workers; log lines name it job=heartbeat-NAME-N;
//     - wakes on the FIFO <spool>/wake (JobQueue::Poke) or every poll_interval_ms;
//     - SIGUSR1: re-reads the configuration and rescans the modules. A route or `module`
//       naming nothing loaded refuses the reload (the current configuration and handlers
//       stay; each reason logged). Otherwise one line per handler:
//         handler=NAME reload=added|removed|changed|unchanged module=PATH why=...
//       (changed: another file or the same path with a new inode/size/mtime/ctime, e.g. a
//       link to a new target; its [handler.NAME] table; or the shared configuration). Only
//       added, removed and changed handlers' workers are replaced: idle ones exit at once,
//       busy ones after their job (it finishes on the code it started with and is recorded
//       once); new workers load the new file;
//     - SIGTERM/SIGINT: stops dispatching, waits up to [runtime] stop_timeout_seconds for
//       running jobs, kills what is left and queues those jobs again (none stays running),
//       exits 0;
//     - stops at once when the daemon dies: EOF on the lifeline pipe whose write end only
//       the daemon holds (and PR_SET_PDEATHSIG SIGTERM as a second line); killed jobs are
//       queued again for the next supervisor.
//   Every job step is one log line:
//     job=ID handler=NAME queue_id=Q attempt=N decision=done|retry|parked reason=...
//
// THREADING
//   The supervisor is single-threaded (poll loop + signalfd). Its parts: worker_pool.h
//   (processes), worker_protocol.h (messages), housekeeping.h (recovery, sweeping).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "config/config.h"

namespace threadmill::runtime {

struct SupervisorHandle {
  pid_t pid = -1;
  UniqueFd lifeline_fd;  // write end of the lifeline pipe (closed by StopSupervisor)
};

// Forks the supervisor process (from a single-threaded process: the child does not exec).
// The caller has checked the configuration (ParseRuntimeConfig, once per snapshot); the
// supervisor parses its own snapshot again only in its own process. `config`
// is the snapshot the daemon loaded from `config_path` (re-read on SIGUSR1). Errors: pipe or fork
// failure.
Result<SupervisorHandle> StartSupervisor(const std::string& config_path,
                                         std::shared_ptr<const config::Config> config);

// Forwards a signal (SIGUSR1 reload, SIGTERM stop). No-op for an invalid handle.
void ForwardSignal(const SupervisorHandle& handle, int signal);

// SIGTERM, then waits up to `timeout_seconds` (then SIGKILL) and reaps it. Returns its exit
// status (or -1).
int StopSupervisor(SupervisorHandle* handle, int timeout_seconds = 30);

// The supervisor loop in the calling process (what the forked child runs): blocks signals,
// returns the exit status when stopped. `lifeline_fd` (-1: none) is the read end of a pipe
// whose EOF means the parent died. For the daemon's supervisor mode, tests and tools.
int RunSupervisor(const std::string& config_path, std::shared_ptr<const config::Config> config,
                  int lifeline_fd = -1);

}  // namespace threadmill::runtime
