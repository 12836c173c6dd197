// sigpipe_block.cc - see sigpipe_block.h.
#include "sigpipe_block.h"

#include <pthread.h>

#include <cerrno>
#include <ctime>

namespace threadmill::handlers::common {

SigpipeBlock::SigpipeBlock() {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  active_ = pthread_sigmask(SIG_BLOCK, &block, &old_mask_) == 0;
}

SigpipeBlock::~SigpipeBlock() {
  if (!active_) return;
  if (!was_pending_) {
    // Discard a SIGPIPE raised inside the scope (it is pending because it was blocked).
    sigset_t pending;
    sigemptyset(&pending);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t only;
      sigemptyset(&only);
      sigaddset(&only, SIGPIPE);
      const struct timespec zero = {0, 0};
      int rc;
      do {
        rc = sigtimedwait(&only, nullptr, &zero);
      } while (rc == -1 && errno == EINTR);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace threadmill::handlers::common
