// handler_check.h - a route or [handler.X] naming a handler that does not load is a
// configuration error: `threadmill -n` fails and a reload is refused by the daemon (its
// routes) as by the supervisor (its handlers). At start it is logged and the route's jobs
// wait (docs/decisions.md: a vanished module must not stop mail filtering).
//
//   The check loads every module of [handlers] dir, each in its own probe process
//   (runtime/module_catalog.h). The daemon never probes in its own (threaded) process: it
//   runs `threadmill --check-handlers -c FILE`, which drops to the [milter] user first (as the
//   supervisor does before it loads anything) and prints one problem per line.
//   Limits: the check process gets kCheckTimeoutSeconds; past it, the check fails.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/runtime_config.h"

namespace threadmill::milter {

inline constexpr int kCheckTimeoutSeconds = 60;

// True when the configuration uses handlers at all (routes or [handler.X] tables).
bool HandlersConfigured(const runtime::RuntimeConfig& runtime_config);

// `--check-handlers`: the problems of config_path's handlers on stdout, one per line. Exit
// status 0 (none), 1 (problems), 2 (the configuration or the privilege drop failed).
int RunHandlerCheckMode(const std::string& config_path);

// Runs this executable in --check-handlers mode and returns its problem lines (empty: every
// route and module is fine). An error when the check itself could not run.
Result<std::vector<std::string>> CheckHandlersInHelper(const std::string& config_path);

}  // namespace threadmill::milter
