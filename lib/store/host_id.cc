// host_id.cc - see host_id.h.
#include "store/host_id.h"

#include <unistd.h>

namespace threadmill::store {

std::string HostId(const EnvOptions& options) {
  if (!options.host_id.empty()) return options.host_id;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    return "localhost:" + options.path;
  return std::string(host) + ":" + options.path;
}

}  // namespace threadmill::store
