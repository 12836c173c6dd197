// config_file.cc - see config_file.h.
#include "config_file.h"

#include <fstream>
#include <sstream>

namespace threadmill::handlers::common {

std::optional<std::string> ReadConfigFile(const std::string& key, const std::string& path,
                                          std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (!in || !(ss << in.rdbuf())) {
    *error = key + ": cannot read " + path;
    return std::nullopt;
  }
  return ss.str();
}

}  // namespace threadmill::handlers::common
