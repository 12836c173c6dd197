// config_error.h - the one exception type of configuration loading.
#pragma once

#include <stdexcept>

namespace threadmill::config {

// "FILE: section.key: what is wrong"; thrown at start-up and reload only.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace threadmill::config
