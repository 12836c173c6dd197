// sendmail.h - hands a message to the MTA through its sendmail(1) interface.
//
// DESCRIPTION
//   A Reinjection runs `COMMAND... -i -f SENDER -- RCPT...` with execv (no shell, no PATH
//   search). COMMAND is the configured [reply] sendmail array: a fixed absolute path plus
//   optional arguments (the test rig adds "-C DIR" for its private Postfix). It has two steps
//   so that the caller can make the reinjection durable before the MTA can see anything:
//     Prepare  writes the message into an anonymous memory file (memfd) and forks the child,
//              which waits on a pipe before it execs sendmail; pid() and start_time() are
//              known now (the caller records them in the reply ledger);
//     Run      lets the child exec sendmail with the memory file as its standard input and
//              waits for it within a time-out (then SIGKILL).
//   A Reinjection destroyed without Run closes the pipe: the child exits without exec.
//   With a gate marker (gate_marker.h: a file the caller created), the child unlinks it and
//   fsyncs its directory right BEFORE exec, and leaves it when it exits without exec (the
//   pipe's EOF: the caller gave up or died). A child that cannot remove the marker, or cannot
//   make the removal durable, exits without exec too (exit status 112). So once the child is
//   gone, a marker still there proves that sendmail never ran.
//
//   Because sendmail reads a file, not a pipe from this process, a worker killed while
//   sendmail runs does not truncate the message: sendmail runs to completion (it is "waited
//   for" by the retry, see replier.h, through ProcessAlive). And because the memory file's
//   offset is shared with the child, Run knows whether sendmail read the whole message:
//     kAccepted   exit status 0 after reading the whole message: the MTA has it
//     kNotQueued  sendmail could not be executed, or ended (any status, or our time-out)
//                 before reading the whole message: it cannot have queued it
//     kAmbiguous  it read the whole message and then failed or timed out: the MTA may hold
//                 it (Postfix's postdrop may have committed it); the caller asks the outbound
//                 echo (replier.h) instead of sending it again
//
//   For Postfix, mail injected this way passes through non_smtpd_milters, i.e. back through
//   threadmill, which classifies it as outbound, records its Message-ID and never routes it
//   to a handler.
//
// STANDARDS
//   Postfix sendmail(1) / Sendmail command line: -i (a lone "." does not end the message),
//   -f (envelope sender; "<>" for the null sender), "--" before recipients; sysexits.h.
//
// LIMITS
//   Safe to call from a multi-threaded process (only async-signal-safe calls between fork and
//   exec). Blocks the calling thread. Linux (memfd_create, /proc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace threadmill::reply {

enum class ReinjectResult { kAccepted, kNotQueued, kAmbiguous };

// Exit statuses of the gated child that never exec'd: the gate closed without a byte, the
// gate marker could not be removed durably.
inline constexpr int kGateClosedExit = 111;
inline constexpr int kGateMarkerExit = 112;
const char* ToString(ReinjectResult result);

struct ReinjectOutcome {
  ReinjectResult result = ReinjectResult::kNotQueued;
  std::string detail;  // "exit status 75: <stderr>", "timed out after 60 s", ...
};

class Reinjection {
 public:
  // Forks the child (see file comment). envelope_sender "" means the null sender ("<>").
  // gate_marker: the path of the attempt's gate marker, "" = none.
  static Result<std::unique_ptr<Reinjection>> Prepare(const std::vector<std::string>& command,
                                                      std::string_view envelope_sender,
                                                      const std::vector<std::string>& recipients,
                                                      std::string_view message,
                                                      std::string_view gate_marker = {});
  ~Reinjection();
  Reinjection(const Reinjection&) = delete;
  Reinjection& operator=(const Reinjection&) = delete;

  pid_t pid() const { return pid_; }
  uint64_t start_time() const { return start_time_; }

  // Starts sendmail and waits for it (once).
  ReinjectOutcome Run(int timeout_seconds);

 private:
  Reinjection() = default;
  pid_t pid_ = -1;
  uint64_t start_time_ = 0;
  UniqueFd go_fd_;   // closing it without a byte tells an un-run child to exit
  UniqueFd err_fd_;  // the child's stdout and stderr
  UniqueFd memfd_;   // the message, the child's stdin
  size_t size_ = 0;
  std::string program_;
  bool reaped_ = false;
};

// Prepare + Run: OK for kAccepted, else kTemporary with the detail.
Status Reinject(const std::vector<std::string>& command, std::string_view envelope_sender,
                const std::vector<std::string>& recipients, std::string_view message,
                int timeout_seconds);

// The start time of a live (not zombie) process in clock ticks since boot (/proc/PID/stat
// field 22), 0 when there is no such process.
uint64_t ProcessStartTime(pid_t pid);
// True while process `pid` runs and is the one that started at `start_time`.
bool ProcessAlive(pid_t pid, uint64_t start_time);

}  // namespace threadmill::reply
