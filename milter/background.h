// background.h - the daemon's own threads besides libmilter's: reload on USR1, the
// periodic retention sweep of the store, the periodic flush of the store to disk, and the
// closing of idle MTA connections ([milter] timeout_seconds).
//
// DESCRIPTION
//   BlockSignals() must run in main before any thread exists, so every thread inherits a mask
//   with USR1 blocked and only the reload thread receives it (via sigwait). libmilter handles
//   TERM, HUP and INT itself (they stop smfi_main). Stop() ends both threads.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "milter/service.h"

namespace threadmill::milter {

void BlockSignals();

class Background {
 public:
  // `forward` (may be empty) passes USR1 on to the handler supervisor on reload.
  Background(Service* service, std::function<void(int)> forward);
  ~Background();  // stops and joins
  void Stop();

 private:
  void ReloadLoop();
  void SweepLoop();
  void SyncLoop();
  void IdleLoop();

  Service* service_;
  std::function<void(int)> forward_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread reload_;
  std::thread sweep_;
  std::thread sync_;
  std::thread idle_;
};

}  // namespace threadmill::milter
