// session.h - exec's session mode: one long-running program per worker (and per handler
// instance) speaking the JSON-lines bridge protocol (handlers/common/json_lines.h) for
// inbound messages and heartbeats, with every host call of the bridge (bridge_calls.h).
//
// DESCRIPTION
//   The program is started on the first event and kept. Each event is one line to the
//   program ({"type":"inbound"|"heartbeat","id":N,...}); the program may then send call lines,
//   each carried out through the host (the same reply rules as any handler) and answered on
//   its stdin, and ends the event with {"done":N,"status":"ok"|"retry"|"fail"}.
//   Time-out: the program has timeout_ms per event, not counting the time threadmill spends
//   in the host calls it asked for. Its stderr goes to the log, stderr_lines_per_minute at
//   most (a warning when the cap is reached, the number dropped when the minute ends).
//
// DIAGNOSTICS
//   Every way an event can end other than "done" ends the program too (the next event starts
//   a fresh one) and is one log line with the reason and the program's exit:
//     cannot start, died, closed its stdout, timed out          → THREADMILL_RETRY
//     protocol error (not JSON, neither call nor done, a done
//     for another event, a line past max_line_bytes)              → THREADMILL_FAIL (a defect)
//   After a failure the program is restarted: at once the first time, then with back-off,
//   1 s doubling up to restart_max_seconds; an event arriving before then is retried later
//   (THREADMILL_RETRY). A finished event ("done") resets the back-off. A call the bridge does not
//   know, or with bad arguments, is answered {"ok":false,...} and the session goes on.
//
// LIMITS
//   One event at a time (the worker is single-threaded); state the program keeps in memory is
//   per worker: keep what must be shared in KV.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "program_session.h"
#include "threadmill/handler.hpp"

namespace threadmill::handlers::exec {

struct SessionSettings {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  int timeout_ms = 30000;
  size_t max_line_bytes = 1 << 20;
  int stderr_lines_per_minute = 60;
  int restart_max_seconds = 60;
  int stop_grace_ms = 2000;
  std::string who;  // "program /path" for log lines
};

class Session {
 public:
  explicit Session(SessionSettings settings);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int Inbound(Context& ctx, const threadmill_envelope& envelope);
  int Heartbeat(Context& ctx);

 private:
  // Runs one event (its line already encoded with id) to its end.
  int RunEvent(Context& ctx, const threadmill_envelope* envelope, uint64_t id,
               const std::string& line);
  bool EnsureStarted(Context& ctx);
  // Ends the program after a failed event; logs why and what it said; schedules back-off.
  int Abandon(Context& ctx, int level, const std::string& why, int status);
  void LogStderr(Context& ctx);

  SessionSettings s_;
  ProgramSession program_;
  uint64_t next_id_ = 1;
  int failures_ = 0;           // consecutive failed events or starts
  int64_t not_before_ms_ = 0;  // no restart before this time
  // stderr rate limit: lines logged in the minute starting at window_start_ms_.
  int64_t window_start_ms_ = 0;
  int window_lines_ = 0;
  size_t window_dropped_ = 0;
};

}  // namespace threadmill::handlers::exec
