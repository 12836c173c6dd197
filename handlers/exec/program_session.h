// program_session.h - a long-running program of exec's session mode, as a byte pipe: started
// once, written to and read from line by line with deadlines, its stderr collected in lines,
// stopped at the end. The protocol on top is session.h's.
//
// DESCRIPTION
//   Start spawns the program (spawn.h SpawnTied: fixed argv and environment, its own process
//   group, only stdin/stdout/stderr open, killed when the worker dies). Write and Read poll stdin, stdout and stderr together, so
//   neither side can block the other on a full pipe: while a long line is written, what the
//   program says meanwhile is buffered. Read returns the next line of stdout (LineBuffer, at
//   most max_line_bytes). Stderr is cut into lines (each at most kMaxStderrLine bytes kept)
//   that TakeStderr hands to the caller for logging. Stop closes stdin, gives the program
//   grace_ms to exit, then kills its process group, and reaps it.
//
// LIMITS
//   Single-threaded use. Between calls nobody reads the pipes: a program that writes more than
//   a pipe buffer (64 KiB) of stderr while idle waits until the next event. When the worker
//   dies abruptly (SIGKILL) the program gets SIGKILL too (PR_SET_PDEATHSIG), but what it
//   started itself does not. A program that calls setsid escapes KillGroup.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "handlers/common/json_lines.h"
#include "spawn.h"

namespace threadmill::handlers::exec {

class ProgramSession {
 public:
  static constexpr size_t kMaxStderrLine = 2000;
  static constexpr size_t kMaxStderrLines = 1000;  // kept between two TakeStderr calls

  explicit ProgramSession(size_t max_line_bytes) : lines_(max_line_bytes) {}
  ~ProgramSession() { Stop(0); }
  ProgramSession(const ProgramSession&) = delete;
  ProgramSession& operator=(const ProgramSession&) = delete;

  // 0, or the errno value of the failed start.
  int Start(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  enum class Io {
    kOk,
    kTimeout,  // the deadline passed
    kClosed,   // the program closed its stdin/stdout (exited, most likely)
    kTooLong,  // a stdout line passed max_line_bytes
  };
  // Writes all of `line` before deadline_ms (NowMs() clock).
  Io Write(const std::string& line, int64_t deadline_ms);
  // The next non-blank stdout line into *line.
  Io Read(std::string* line, int64_t deadline_ms);

  // Complete stderr lines since the last call (and lines dropped past kMaxStderrLines).
  std::vector<std::string> TakeStderr(size_t* dropped);

  // Ends the program (grace_ms for it to exit after stdin closes, then SIGKILL to its group)
  // and says how it ended ("exited with status 3", "killed by signal 9"); "" if not running.
  std::string Stop(int grace_ms);

 private:
  // One poll round until deadline: reads stdout/stderr, writes pending stdin bytes.
  // False when the deadline passed.
  bool Pump(int64_t deadline_ms, bool want_write);
  void ReadStdout();
  void ReadStderr();
  void KeepStderrLine(std::string line);

  pid_t pid_ = -1;
  Fd in_, out_, err_;
  common::LineBuffer lines_;
  std::string to_write_;
  size_t written_ = 0;
  bool write_failed_ = false;
  std::string err_partial_;
  std::vector<std::string> err_lines_;
  size_t err_dropped_ = 0;
};

}  // namespace threadmill::handlers::exec
