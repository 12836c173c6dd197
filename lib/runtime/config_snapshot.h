// config_snapshot.h - one configuration as read at start or at a reload, parsed once.
//
// DESCRIPTION
//   A ConfigSnapshot holds the parsed file (config::Config: [milter], [store], [auth], ...)
//   and its handler-runtime part (RuntimeConfig: [handlers], [runtime], [handler.NAME],
//   [[routes]], [reply]) side by side. Each process makes one per configuration it reads -
//   the daemon at start and at every USR1, threadmillctl per command - and hands the
//   parsed parts down, so ParseRuntimeConfig never runs twice for one reading of the file.
//   Both parts are immutable and shared: a reload builds a new snapshot and swaps it in.
//
// DIAGNOSTICS
//   LoadConfigSnapshot throws config::ConfigError "FILE: section.key: what is wrong"
//   (start-up and reload only; a failed reload keeps the running snapshot).
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "runtime/runtime_config.h"

namespace threadmill::runtime {

struct ConfigSnapshot {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const RuntimeConfig> runtime;
};

// Reads and validates the file at `path`. Throws config::ConfigError.
ConfigSnapshot LoadConfigSnapshot(const std::string& path);

// The snapshot of an already parsed file. Throws config::ConfigError.
ConfigSnapshot MakeConfigSnapshot(std::shared_ptr<const config::Config> config);

}  // namespace threadmill::runtime
