// options.h - threadmill's command line.
#pragma once

#include <optional>
#include <string>

namespace threadmill::milter {

struct Options {
  std::string config_path = "/etc/threadmill/threadmill.conf";
  bool check_only = false;  // -n: check the configuration and exit
  bool daemonize = false;   // -d: detach from the terminal (default: foreground, for systemd)
  std::string pid_file;     // -p FILE: overrides [milter] pid_file
  // -S FD (internal): run as the handler supervisor restarted by the daemon; FD is the read
  // end of its lifeline pipe (see milter/supervisor_keeper.h).
  int supervisor_fd = -1;
  // --check-handlers (internal): print the handler problems and exit (milter/handler_check.h).
  bool check_handlers = false;
};

// Parses argv; on error or -h prints usage to stderr and returns nullopt with *exit_code set.
std::optional<Options> ParseOptions(int argc, char** argv, int* exit_code);

}  // namespace threadmill::milter
