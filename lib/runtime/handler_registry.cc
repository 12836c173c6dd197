// handler_registry.cc - see handler_registry.h.
#include "runtime/handler_registry.h"

#include <set>

#include "runtime/loader.h"

namespace threadmill::runtime {

const HandlerInstance* HandlerRegistry::Find(const std::string& name) const {
  auto it = instances.find(name);
  return it == instances.end() ? nullptr : &it->second;
}

HandlerRegistry BuildRegistry(const RuntimeConfig& config, const ModuleCatalog& catalog) {
  HandlerRegistry registry;
  std::set<std::string> routed;
  for (const RouteRule& route : config.routes) routed.insert(route.handler);
  std::set<std::string> used_by_named;  // table names of modules serving named instances
  for (const auto& [name, settings] : config.handlers) {
    if (settings.module.empty()) {
      if (auto module = catalog.Find(name)) registry.instances[name] = {name, module};
      continue;
    }
    auto module = catalog.FindModule(settings.module);
    if (!module) {
      registry.problems.push_back("handler." + name + ": module \"" + settings.module +
                                  "\" is not loaded (no module with that handler or file name)");
      continue;
    }
    if (module->name != name) {
      used_by_named.insert(module->name);
      if (auto other = catalog.Find(name)) {
        registry.problems.push_back("handler." + name + ": module = \"" + settings.module +
                                    "\", but module " + other->path + " is also named \"" + name +
                                    "\"");
      }
    }
    registry.instances[name] = {name, module};
  }
  for (const auto& module : catalog.modules) {
    const std::string& name = module->name;
    if (registry.instances.count(name) || config.handlers.count(name)) continue;
    if (used_by_named.count(name) && !routed.count(name)) continue;
    registry.instances[name] = {name, module};
  }
  return registry;
}

std::vector<std::string> RouteProblems(const RuntimeConfig& config,
                                       const HandlerRegistry& registry) {
  std::vector<std::string> out;
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteRule& route = config.routes[i];
    if (registry.Find(route.handler)) continue;
    out.push_back("routes[" + std::to_string(i) + "] (" + route.pattern + "): handler \"" +
                  route.handler + "\" is not loaded from " + config.handlers_dir);
  }
  return out;
}

std::vector<std::string> HandlerProblems(const RuntimeConfig& config,
                                         const HandlerRegistry& registry) {
  std::vector<std::string> out = registry.problems;
  for (std::string& line : RouteProblems(config, registry)) out.push_back(std::move(line));
  return out;
}

std::vector<std::string> CheckHandlerModules(const RuntimeConfig& config) {
  ModuleCatalog catalog = ScanModules(config.handlers_dir, LoaderOptions{});
  return HandlerProblems(config, BuildRegistry(config, catalog));
}

}  // namespace threadmill::runtime
