// worker_pool.h - the supervisor's worker processes: fork, message, time-out, reap.
//
// DESCRIPTION
//   A WorkerPool owns one WorkerSlot per worker process: its pid, the handler instance it
//   serves (each handler has its own workers: a worker loads and runs one handler only), its
//   end of the SOCK_SEQPACKET socket pair (worker_protocol.h) and what it is running.
//   Spawn() forks a worker that:
//     - dies with the supervisor (PR_SET_PDEATHSIG SIGKILL, and EOF on its socket);
//     - closes every descriptor of the supervisor it must not keep (other workers' sockets,
//       the descriptors given to set_close_in_child: signalfd, wake FIFO, supervisor.lock);
//     - gets an empty signal mask and default TERM;
//     - gets RLIMIT_DATA = memory_limit_bytes when non-zero (private memory: heap, mmap'd
//       allocations, stacks; the shared LMDB map is not counted, which RLIMIT_AS would);
//     - runs the given function with its socket and _exit()s with its result.
//   The pool never touches the store: the supervisor records job outcomes through the
//   callbacks of Reap() and CheckTimeouts().
//
// THREADING
//   Single-threaded (the supervisor's poll loop). Spawn() must be called with no LMDB
//   environment open in the process.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "runtime/worker_protocol.h"

namespace threadmill::runtime {

struct WorkerSlot {
  pid_t pid = -1;
  std::string instance;  // the handler this worker serves
  UniqueFd fd;  // the supervisor's end of the socket pair
  bool busy = false;
  bool retiring = false;  // exit after the current task
  bool killed = false;    // SIGKILLed (time-out, unreachable, bad frame)
  std::string job_id;     // current job ("" for a heartbeat)
  std::string handler;
  std::string queue_id;
  uint32_t attempt = 0;
  std::string heartbeat;          // current heartbeat's id ("heartbeat-NAME-N")
  int64_t deadline_ms = 0;        // the task's own deadline (steady clock)
  int64_t reinject_until_ms = 0;  // > 0 while the worker reinjects (kReinjectStart)
  uint64_t tasks = 0;

  bool Idle() const { return !busy && !retiring && !killed; }
  // The deadline that applies now: the later of the task's and a reinjection's.
  int64_t EffectiveDeadlineMs() const { return std::max(deadline_ms, reinject_until_ms); }
};

// The RLIMIT_DATA a worker gets for `worker_memory_mb` (0: none). Sanitizer builds (the
// sanitize and tsan presets) reserve terabytes of shadow address space that RLIMIT_DATA and
// VmData count, so there the limit is always 0.
uint64_t WorkerMemoryLimitBytes(int64_t worker_memory_mb);

class WorkerPool {
 public:
  using ChildMain = std::function<int(int fd)>;

  WorkerPool() = default;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Descriptors every new worker closes first.
  void set_close_in_child(std::vector<int> fds) { close_in_child_ = std::move(fds); }

  // Forks one worker of handler `instance` running child_main(fd). False (logged) when
  // socketpair/fork fail.
  bool Spawn(const std::string& instance, const ChildMain& child_main, uint64_t memory_limit_bytes);

  // Sends a message; a worker that cannot be reached is SIGKILLed (reaped later).
  void Send(WorkerSlot& slot, const WorkerMessage& message);
  // Lets the worker finish its task, then exit.
  void Retire(WorkerSlot& slot);
  void RetireAll();
  // Retires the workers of one handler (each finishes its task first).
  void RetireInstance(const std::string& instance);
  void KillAll();

  std::vector<WorkerSlot*> Idle();
  std::vector<WorkerSlot*> Idle(const std::string& instance);
  size_t Active() const;  // workers not retiring
  size_t Active(const std::string& instance) const;
  bool HasIdle() const;
  bool AnyBusy() const;
  bool empty() const { return slots_.empty(); }
  std::vector<WorkerSlot>& slots() { return slots_; }
  const std::vector<WorkerSlot>& slots() const { return slots_; }

  // One message of a readable worker; nullopt when nothing (or EOF: the socket is closed and
  // Reap() records the rest). A bad frame kills the worker.
  std::optional<WorkerMessage> Receive(WorkerSlot& slot);

  // Reaps ended workers (waitpid WNOHANG). For each: on_message for a message it sent just
  // before it ended, then on_end(slot, wait status); then the slot is removed.
  void Reap(const std::function<void(WorkerSlot&, const WorkerMessage&)>& on_message,
            const std::function<void(WorkerSlot&, int status)>& on_end);

  // SIGKILLs busy workers past their effective deadline; on_timeout(slot) is called first.
  void CheckTimeouts(int64_t now_ms, const std::function<void(WorkerSlot&)>& on_timeout);
  // Milliseconds until the next deadline of a busy worker (or `cap`), never negative.
  int64_t MsToNextDeadline(int64_t now_ms, int64_t cap) const;

  // Appends {fd, POLLIN} for every open worker socket.
  void AddPollFds(std::vector<pollfd>* fds) const;
  WorkerSlot* ByFd(int fd);

 private:
  std::vector<WorkerSlot> slots_;
  std::vector<int> close_in_child_;
};

}  // namespace threadmill::runtime
