// txn_gate.h - lets transactions run together and map resizes run alone, inside a process.
//
// DESCRIPTION
//   LMDB's mdb_env_set_mapsize() may only be called while this process has no transaction
//   open (it unmaps and remaps the file). Every transaction holds the gate shared for its
//   lifetime; a resize holds it exclusively. Unlike std::shared_mutex on glibc (which
//   prefers readers), a waiting resize blocks new transactions, so a busy milter cannot
//   starve map growth.
//
// LIMITS
//   Not re-entrant: a thread that holds a transaction must not begin another one, or it
//   deadlocks as soon as a resize is waiting.
#pragma once

#include <condition_variable>
#include <mutex>

namespace threadmill::store {

class TxnGate {
 public:
  TxnGate() = default;
  TxnGate(const TxnGate&) = delete;
  TxnGate& operator=(const TxnGate&) = delete;

  // Blocks while a resize runs or waits. Thread-safe.
  void EnterShared();
  // Releases one EnterShared(). Thread-safe.
  void LeaveShared();
  // Blocks until no transaction is open in this process, then excludes new ones.
  void EnterExclusive();
  // Ends EnterExclusive().
  void LeaveExclusive();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  unsigned shared_ = 0;
  unsigned exclusive_waiting_ = 0;
  bool exclusive_ = false;
};

// RAII exclusive hold.
class ExclusiveGate {
 public:
  explicit ExclusiveGate(TxnGate& gate) : gate_(gate) { gate_.EnterExclusive(); }
  ~ExclusiveGate() { gate_.LeaveExclusive(); }
  ExclusiveGate(const ExclusiveGate&) = delete;
  ExclusiveGate& operator=(const ExclusiveGate&) = delete;

 private:
  TxnGate& gate_;
};

}  // namespace threadmill::store
