// supervisor_keeper.h - the daemon keeps its handler supervisor alive.
//
// DESCRIPTION
//   The first supervisor is forked by runtime::StartSupervisor before any thread exists.
//   A SupervisorKeeper thread then watches it through a pidfd: when it dies (kill -9, crash,
//   a configuration it refuses) the keeper reaps it at once (no zombie), logs
//     handler supervisor PID died: <signal or exit status>; restart N in S s
//   counts threadmill_supervisor_restarts_total in /metrics, waits S seconds (1, 2, 4 ... 60;
//   back to 1 after a supervisor lived 60 s) and starts a new one. A restarted supervisor is
//   the daemon's own binary, fork()ed and exec()ed at once (`threadmill -c CONFIG -S 3`;
//   forking a multi-threaded daemon without exec is unsafe), with only the read end of its
//   lifeline pipe (fd 3) inherited: every other descriptor of the daemon (listening socket,
//   connections, store) is close-on-exec in the child. The supervisor stops at once when the
//   lifeline reaches EOF, i.e. when the daemon dies.
//
// THREADING
//   Signal() and Stop() may be called from any thread; Stop() once, at shutdown.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "metrics/registry.h"
#include "runtime/supervisor.h"

namespace threadmill::milter {

class SupervisorKeeper {
 public:
  // Takes over `first` (pid -1: no supervisor, the keeper does nothing).
  SupervisorKeeper(std::string config_path, runtime::SupervisorHandle first,
                   std::shared_ptr<metrics::Registry> metrics);
  ~SupervisorKeeper();  // Stop()

  // Forwards a signal (USR1) to the current supervisor.
  void Signal(int signal_number);
  // Stops watching, TERMs the supervisor and waits up to timeout_seconds (then KILL).
  void Stop(int timeout_seconds);

 private:
  void Loop();
  bool Restart();

  std::string config_path_;
  std::string exe_;
  std::shared_ptr<metrics::Registry> metrics_;
  std::mutex mutex_;
  runtime::SupervisorHandle handle_;
  UniqueFd stop_fd_;  // eventfd: Stop() wakes the thread
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace threadmill::milter
