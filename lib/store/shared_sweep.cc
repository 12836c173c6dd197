// shared_sweep.cc - see shared_sweep.h.
#include "store/shared_sweep.h"

#include <unistd.h>

#include <algorithm>
#include <array>

namespace threadmill::store {

std::string SweepHostName() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) name[0] = '\0';
  return std::string(name.data()) + ":" + std::to_string(getpid());
}

Result<bool> TakeSharedSweep(const Environment& env, std::string_view name, int64_t now,
                             int64_t interval_seconds) {
  std::shared_ptr<SweepLease> lease = env.shared_backends().sweep_lease;
  if (!lease) return true;
  return lease->TryAcquire(name, SweepHostName(), now,
                           now + std::max<int64_t>(interval_seconds, 1));
}

}  // namespace threadmill::store
