// handler_registry.h - the handler instances: which module each handler name runs, and the
// routes that name a handler nobody runs.
//
// DESCRIPTION
//   A handler instance is a name (what routes, kv, drafts, logs and worker pools use) and the
//   module that serves it. BuildRegistry derives them from the configuration and a scan of
//   the handlers directory (module_catalog.h):
//     - [handler.X] with `module = "M"`: instance X runs module M (M is a module's table name
//       or its file name, "exec" or "exec.so"); one module may serve many instances
//       ([handler.support] module = "exec", [handler.sales] module = "exec");
//     - [handler.X] without `module`: instance X runs the module whose table name is X (as
//       before named instances existed);
//     - every other loaded module M is instance M, unless M serves a named instance and
//       neither [handler.M] nor a route names M (a module used only through named instances
//       does not also run under its own name).
//   Problems (each one line, for `threadmill -n`, the start and a reload): a `module` that
//   is not loaded; a named instance whose name is also another loaded module's name; a route
//   whose handler is no instance.
//
// THREADING
//   Pure functions of their arguments.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/module_catalog.h"
#include "runtime/runtime_config.h"

namespace threadmill::runtime {

struct HandlerInstance {
  std::string name;
  std::shared_ptr<const ModuleFile> module;
};

struct HandlerRegistry {
  std::map<std::string, HandlerInstance> instances;  // by instance name
  std::vector<std::string> problems;                 // configuration problems (see above)
  const HandlerInstance* Find(const std::string& name) const;
};

HandlerRegistry BuildRegistry(const RuntimeConfig& config, const ModuleCatalog& catalog);

// One line per [[routes]] entry whose handler is not an instance of `registry`.
std::vector<std::string> RouteProblems(const RuntimeConfig& config,
                                       const HandlerRegistry& registry);

// BuildRegistry's and RouteProblems' lines together: empty when every route and instance is
// served.
std::vector<std::string> HandlerProblems(const RuntimeConfig& config,
                                         const HandlerRegistry& registry);

// Scans [handlers] dir (ScanModules: probes, never loads here) and returns HandlerProblems:
// what `threadmill -n` and the daemon's start refuse. Forks: single-threaded callers only.
std::vector<std::string> CheckHandlerModules(const RuntimeConfig& config);

}  // namespace threadmill::runtime
