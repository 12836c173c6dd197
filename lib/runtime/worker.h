// worker.h - a handler worker process: runs jobs and heartbeats one at a time.
//
// DESCRIPTION
//   The supervisor forks workers and talks to each over a SOCK_SEQPACKET socket pair, one
//   datagram per message:
//     supervisor -> worker   "J <job id>"      run this (already claimed, running) job
//                            "H <handler>"     call the handler's on_heartbeat
//                            "X"               finish: fini() every handler, exit 0
//     worker -> supervisor   "R <outcome> <reason>"   outcome: done | retry | park
//                            "K <seconds>"     busy reinjecting a reply: extend the job's
//                                              deadline to now + seconds (bounded)
//   A worker opens its own LMDB environment (after fork), calls each handler's init() the
//   first time it needs that handler, and builds a fresh context per call. It dies with
//   the supervisor (PR_SET_PDEATHSIG). A crash or hang of a handler kills only the worker;
//   the supervisor notices (EOF, SIGCHLD, time-out) and retries the job.
#pragma once

#include <memory>

#include "runtime/loader.h"
#include "runtime/runtime_config.h"

namespace threadmill::runtime {

// Runs the worker loop on `fd` until "X" or EOF; returns the process exit status.
// `modules` were loaded by the supervisor before fork().
int RunWorker(int fd, const ModuleSet& modules, std::shared_ptr<const RuntimeConfig> config);

}  // namespace threadmill::runtime
