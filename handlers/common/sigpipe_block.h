// sigpipe_block.h - keeps SIGPIPE away from the worker while a handler writes to a pipe or a
// socket (exec: a program's stdin; webhook: libcurl's connection).
//
// DESCRIPTION
//   SigpipeBlock blocks SIGPIPE in the calling thread for its lifetime and discards a SIGPIPE
//   that its scope raised, so a write whose reader is gone fails with EPIPE instead of killing
//   the worker process. A SIGPIPE already pending before the scope is left pending.
#pragma once

#include <signal.h>

namespace threadmill::handlers::common {

// Blocks SIGPIPE in this thread while alive; a SIGPIPE raised meanwhile is consumed.
class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
  bool active_ = false;
};

}  // namespace threadmill::handlers::common
