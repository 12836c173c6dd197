// main.cc - threadmill, the milter daemon: start-up, libmilter main loop, shutdown.
//
// DESCRIPTION
//   Start-up order: parse options, load and check the configuration and, as root, that the
//   service user exists (-n stops here), set up logging, decide the privilege drop (a missing
//   service user stops here, before anything is forked), block the reload signal, detach
//   (-d), write the pid file, with handlers: create the store, hand it to the service user and
//   fork the handler supervisor (which drops the same way); open the store, bind the socket,
//   secure it, drop privileges, start the background threads, run libmilter until TERM. Each
//   start-up problem is one clear line on stderr and in the log, and exit status 1.
//   TERM: libmilter closes the listening socket; transactions in flight are answered (up to
//   [milter] drain_seconds), then the handler supervisor stops (its running jobs get [runtime]
//   stop_timeout_seconds, then are queued again). Bound on the whole stop: ~5 s (libmilter's
//   listener) + drain_seconds + stop_timeout_seconds + 5 s; the packaged unit's
//   TimeoutStopSec is above it for the defaults (30 + 10).
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

#include "config/config.h"
#include "filter/reauth.h"
#include "log/logger.h"
#include "milter/background.h"
#include "milter/callbacks.h"
#include "milter/drain.h"
#include "milter/handler_check.h"
#include "milter/options.h"
#include "milter/process.h"
#include "milter/service.h"
#include "milter/supervisor_keeper.h"
#include "runtime/config_snapshot.h"
#include "runtime/reauth.h"
#include "runtime/runtime_config.h"
#include "runtime/supervisor.h"

namespace threadmill::milter {
namespace {

void Fatal(const std::string& message) {
  std::fprintf(stderr, "threadmill: %s\n", message.c_str());
  log::Get().critical("start-up failed: {}", message);
}

// Routes or handler sections in the configuration: the handler supervisor is needed.
// Routes and [handler.X] tables must name handlers that load (milter/handler_check.h): -n
// fails. The start does not (the supervisor logs it and the route's jobs wait): a module that
// disappeared must not stop mail filtering.
bool HandlersLoad(const std::string& config_path, const runtime::RuntimeConfig& runtime_config) {
  if (!HandlersConfigured(runtime_config)) return true;
  auto problems = CheckHandlersInHelper(config_path);
  if (!problems.ok()) {
    Fatal("configuration error: " + problems.error().message);
    return false;
  }
  for (const std::string& problem : *problems) Fatal("configuration error: " + problem);
  return problems->empty();
}

// -S FD: the handler supervisor, restarted by the daemon's SupervisorKeeper (exec'd, so it
// starts as a fresh single-threaded process).
int RunSupervisorMode(const Options& options) {
  prctl(PR_SET_NAME, "threadmill-sup");
  try {
    auto config = config::Load(options.config_path);
    log::Configure(config->log);
    return runtime::RunSupervisor(options.config_path, config, options.supervisor_fd);
  } catch (const std::exception& e) {
    Fatal(std::string("supervisor: ") + e.what());
    return 1;
  }
}

void OpenSocket(const config::Config& config, const PrivilegePlan& privileges) {
  PrepareSocketPath(config.milter, privileges);
  if (smfi_setconn(const_cast<char*>(config.milter.socket.text.c_str())) != MI_SUCCESS) {
    throw std::runtime_error("libmilter refused socket " + config.milter.socket.text);
  }
  smfi_settimeout(config.milter.timeout_seconds);
  if (smfi_opensocket(/*rmsocket=*/true) != MI_SUCCESS) {
    throw std::runtime_error("cannot listen on " + config.milter.socket.text +
                             ": the address is in use, the directory is missing or not "
                             "writable, or the port needs root");
  }
  SecureSocket(config.milter, privileges);
  SetNoDelayOnListener(config.milter);
}

// Waits in the main thread for TERM, INT or HUP (blocked in every thread since BlockSignals;
// a thread in sigwait counts as willing and the kernel offers a process signal to the
// thread-group leader first) and returns it; 0 when libmilter's loop ended by itself (the
// milter thread then sends this thread USR2).
int WaitForStop(const std::atomic<bool>& milter_ended) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR2);
  while (!milter_ended) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig != SIGUSR2) return sig;
  }
  return 0;
}

int Run(const Options& options) {
  // Workers re-authenticate jobs whose verdict waited for DNS with the milter's own code.
  runtime::InstallReauthFactory(filter::MakeJobReauthenticator);
  if (options.supervisor_fd >= 0) return RunSupervisorMode(options);
  if (options.check_handlers) return RunHandlerCheckMode(options.config_path);
  runtime::ConfigSnapshot snapshot;
  try {
    snapshot = runtime::LoadConfigSnapshot(options.config_path);
  } catch (const std::exception& e) {
    Fatal(std::string("configuration error: ") + e.what());
    return 1;
  }
  const std::shared_ptr<const config::Config>& config = snapshot.config;
  const runtime::RuntimeConfig& runtime_config = *snapshot.runtime;
  if (options.check_only) {
    // Every route must name a handler that loads, every `module` must load.
    if (!HandlersLoad(options.config_path, runtime_config)) return 1;
    try {
      (void)PlanPrivileges(config->milter);  // as root: the service user must exist
    } catch (const std::exception& e) {
      Fatal(std::string("configuration error: ") + e.what());
      return 1;
    }
    std::printf("threadmill: configuration %s is valid\n", options.config_path.c_str());
    return 0;
  }
  try {
    log::Configure(config->log);
    // Decided before anything is forked: a missing service user stops the start here, for
    // the milter and the handler supervisor alike.
    PrivilegePlan privileges = PlanPrivileges(config->milter);
    if (privileges.action == PrivilegePlan::Action::kStayRoot) {
      log::Get().warn("running as root: [milter] user is \"\" (handlers run as root too)");
    }
    BlockSignals();
    if (options.daemonize) Daemonize();
    std::string pid_file = options.pid_file.empty() ? config->milter.pid_file : options.pid_file;
    if (!pid_file.empty()) WritePidFile(pid_file);

    // Handlers run in the supervisor's worker processes, forked before any thread exists
    // and before this process opens the store.
    runtime::SupervisorHandle supervisor;
    if (HandlersConfigured(*snapshot.runtime)) {
      PrepareStore(*config, privileges);
      auto started = runtime::StartSupervisor(options.config_path, config);
      if (!started.ok()) throw std::runtime_error(started.error().message);
      supervisor = std::move(*started);
    }

    Service service(options.config_path, snapshot);
    SupervisorKeeper keeper(options.config_path, std::move(supervisor), service.metrics());
    ChownStore(*config, privileges);
    if (!RegisterCallbacks(&service)) throw std::runtime_error("smfi_register failed");
    OpenSocket(*config, privileges);
    service.StartMetricsListener();
    if (Status dropped = DropPrivileges(privileges); !dropped.ok()) {
      throw std::runtime_error(dropped.error().message);
    }

    Background background(&service, [&keeper](int sig) { keeper.Signal(sig); });
    NotifyReady();
    log::Get().info("threadmill {} listening on {} (store {}, log {})", THREADMILL_VERSION,
                    config->milter.socket.text, config->store.path, config->log.target);
    // smfi_main in its own thread; this (the main) thread takes TERM/INT/HUP so that
    // libmilter's signal thread never does: see drain.h.
    std::atomic<bool> milter_ended{false};
    int status = MI_FAILURE;
    pthread_t main_thread = pthread_self();
    std::thread milter([&] {
      status = smfi_main();
      milter_ended = true;
      pthread_kill(main_thread, SIGUSR2);
    });
    int signal_number = WaitForStop(milter_ended);
    if (signal_number > 0) {
      log::Get().info(
          "threadmill stopping (signal {}): new connections refused; {} "
          "transaction(s) in flight get up to {} s",
          signal_number, drain::InFlight(), config->milter.drain_seconds);
      drain::CloseListener(config->milter);
      size_t left = drain::WaitIdle(std::chrono::seconds(config->milter.drain_seconds));
      if (left) {
        log::Get().warn(
            "drain_seconds = {} passed: {} transaction(s) cut off (the MTA applies "
            "milter_default_action)",
            config->milter.drain_seconds, left);
      } else {
        log::Get().info("drained: every transaction in flight was answered");
      }
      smfi_stop();
    } else {
      log::Get().error("threadmill stopping: libmilter's main loop ended on its own");
    }
    milter.join();
    background.Stop();
    keeper.Stop(static_cast<int>(runtime_config.stop_timeout_seconds) + 5);
    if (!pid_file.empty()) unlink(pid_file.c_str());
    return status == MI_SUCCESS ? 0 : 1;
  } catch (const std::exception& e) {
    Fatal(e.what());
    return 1;
  }
}

}  // namespace
}  // namespace threadmill::milter

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = threadmill::milter::ParseOptions(argc, argv, &exit_code);
  if (!options) return exit_code;
  return threadmill::milter::Run(*options);
}
