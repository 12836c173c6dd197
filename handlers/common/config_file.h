// config_file.h - reading a file a configuration key names (autoreply's template_file,
// webhook's secret_file), with an error that names the key.
//
// LIMITS
//   The whole file is read into memory; the files meant here are small (templates, secrets).
#pragma once

#include <optional>
#include <string>

namespace threadmill::handlers::common {

// The bytes of `path`; std::nullopt and *error = "KEY: cannot read PATH" when unreadable.
std::optional<std::string> ReadConfigFile(const std::string& key, const std::string& path,
                                          std::string* error);

}  // namespace threadmill::handlers::common
