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
#include <libmilter/mfapi.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "config/config.h"
#include "log/logger.h"
#include "milter/background.h"
#include "milter/callbacks.h"
#include "milter/options.h"
#include "milter/process.h"
#include "milter/service.h"
#include "runtime/runtime_config.h"
#include "runtime/supervisor.h"

namespace threadmill::milter {
namespace {

void Fatal(const std::string& message) {
  std::fprintf(stderr, "threadmill: %s\n", message.c_str());
  log::Get().critical("start-up failed: {}", message);
}

// Routes or handler sections in the configuration: the handler supervisor is needed.
bool HandlersConfigured(const config::Config& config) {
  auto runtime_config = runtime::ParseRuntimeConfig(config);
  return !runtime_config.routes.empty() || !runtime_config.handlers.empty();
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

int Run(const Options& options) {
  std::shared_ptr<const config::Config> config;
  try {
    config = config::Load(options.config_path);
  } catch (const std::exception& e) {
    Fatal(std::string("configuration error: ") + e.what());
    return 1;
  }
  if (options.check_only) {
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
    if (HandlersConfigured(*config)) {
      PrepareStore(*config, privileges);
      auto started = runtime::StartSupervisor(options.config_path, config);
      if (!started.ok()) throw std::runtime_error(started.error().message);
      supervisor = *started;
    }

    Service service(options.config_path, config);
    ChownStore(*config, privileges);
    if (!RegisterCallbacks(&service)) throw std::runtime_error("smfi_register failed");
    OpenSocket(*config, privileges);
    service.StartMetricsListener();
    if (Status dropped = DropPrivileges(privileges); !dropped.ok()) {
      throw std::runtime_error(dropped.error().message);
    }

    Background background(&service, supervisor);
    NotifyReady();
    log::Get().info("threadmill {} listening on {} (store {}, log {})", THREADMILL_VERSION,
                    config->milter.socket.text, config->store.path, config->log.target);
    int status = smfi_main();
    log::Get().info("threadmill stopping");
    background.Stop();
    if (supervisor.pid > 0) runtime::StopSupervisor(&supervisor);
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
