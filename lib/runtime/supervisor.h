// supervisor.h - the handler supervisor process: job dispatch, worker pool, retries.
//
// DESCRIPTION
//   StartSupervisor forks the supervisor from the milter daemon; call it before any thread
//   exists and before the daemon opens the store (LMDB must be opened after fork()). The
//   supervisor:
//     - takes <spool>/supervisor.lock (waits up to 30 s for a previous one to go away);
//     - drops to [milter] user when started as root, after handing it the store directory
//       (common/privileges.h, common/chown_tree.h: the daemon's drop); refuses to start when
//       that user or group does not exist;
//     - opens its own store environment; puts jobs left "running" back in the queue;
//     - loads handler modules from [handlers] dir (loader.h);
//     - runs [runtime] workers worker processes (worker.h) and hands each due job to an idle
//       worker; a job whose worker crashes (signal, exit) or exceeds job_timeout_seconds
//       (SIGKILL) is retried with exponential backoff and parked after max_attempts; a
//       worker is replaced after recycle_after_jobs jobs;
//     - calls on_heartbeat of handlers that have one every heartbeat_seconds;
//     - wakes on the FIFO <spool>/wake (JobQueue::Poke) or every poll_interval_ms;
//     - SIGUSR1: re-reads the configuration and the modules, lets running jobs finish on the
//       old workers and starts new ones (jobs are in the store: nothing is lost);
//     - SIGTERM/SIGINT: stops dispatching, waits up to job_timeout_seconds for running jobs,
//       kills what is left (those jobs are retried at the next start), exits 0;
//     - exits when the daemon dies (PR_SET_PDEATHSIG SIGTERM).
//   Every job step is one log line:
//     job=ID handler=NAME queue_id=Q attempt=N decision=done|retry|parked reason=...
//
// THREADING
//   The supervisor is single-threaded (poll loop + signalfd).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"

namespace threadmill::runtime {

struct SupervisorHandle {
  pid_t pid = -1;
};

// Forks the supervisor process. `config` is the snapshot the daemon loaded from
// `config_path` (re-read on SIGUSR1). Errors: fork failure, bad [handlers]/[runtime]/
// [routes]/[reply] configuration (config::ConfigError text).
Result<SupervisorHandle> StartSupervisor(const std::string& config_path,
                                         std::shared_ptr<const config::Config> config);

// Forwards a signal (SIGUSR1 reload, SIGTERM stop). No-op for an invalid handle.
void ForwardSignal(const SupervisorHandle& handle, int signal);

// SIGTERM, then waits up to `timeout_seconds` (then SIGKILL) and reaps it. Returns its exit
// status (or -1).
int StopSupervisor(SupervisorHandle* handle, int timeout_seconds = 30);

// The supervisor loop in the calling process (what the forked child runs): blocks signals,
// returns the exit status when stopped. For tests and foreground tools.
int RunSupervisor(const std::string& config_path, std::shared_ptr<const config::Config> config);

}  // namespace threadmill::runtime
