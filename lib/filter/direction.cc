#include "filter/direction.h"

#include <algorithm>

namespace threadmill::filter {

DirectionVerdict ClassifyDirection(const Envelope& envelope,
                                   const config::DirectionConfig& config) {
  if (config.authenticated_is_outbound && !envelope.auth_authen.empty()) {
    return {store::Direction::kOutbound, "authenticated"};
  }
  const auto& daemons = config.submission_daemons;
  if (!envelope.daemon_name.empty() &&
      std::find(daemons.begin(), daemons.end(), envelope.daemon_name) != daemons.end()) {
    return {store::Direction::kOutbound, "submission"};
  }
  if (auto ip = config::ParseIp(envelope.client_addr)) {
    for (const auto& network : config.internal_hosts) {
      if (network.Contains(*ip)) return {store::Direction::kOutbound, "internal-host"};
    }
  }
  return {store::Direction::kInbound, "external"};
}

}  // namespace threadmill::filter
