// txn_gate.cc - see txn_gate.h.
#include "store/txn_gate.h"

namespace threadmill::store {

void TxnGate::EnterShared() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !exclusive_ && exclusive_waiting_ == 0; });
  ++shared_;
}

void TxnGate::LeaveShared() {
  std::lock_guard lock(mu_);
  if (--shared_ == 0) cv_.notify_all();
}

void TxnGate::EnterExclusive() {
  std::unique_lock lock(mu_);
  ++exclusive_waiting_;
  cv_.wait(lock, [this] { return !exclusive_ && shared_ == 0; });
  --exclusive_waiting_;
  exclusive_ = true;
}

void TxnGate::LeaveExclusive() {
  std::lock_guard lock(mu_);
  exclusive_ = false;
  cv_.notify_all();
}

}  // namespace threadmill::store
