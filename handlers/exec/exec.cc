// exec.cc - the "exec" handler: handlers in any language. In one-shot mode (the default) it
// runs a configured program for each inbound message, with the envelope as JSON on its stdin;
// the program's stdout (JSON) says reply, draft or nothing. In session mode (session.h) the
// program runs for the worker's life and speaks the JSON-lines bridge protocol: inbound
// messages, heartbeats, and every host call (KV, send, reply, draft, attachments, ...).
//
// DESCRIPTION
//   [handler.NAME] config (NAME is any instance name, module = "exec"): command (argv, absolute
//   program path, no shell), mode ("oneshot" | "session"), timeout_seconds, max_output_bytes
//   (one-shot), max_line_bytes, stderr_lines_per_minute, restart_max_seconds (session), path,
//   env. See handlers/exec/README.md. The program runs with a cleared
//   environment (PATH, plus the configured env), its own process group, no inherited
//   descriptors besides its three pipes, and is killed with its group at the time-out.
//   Exit status 0 → the answer on stdout is carried out (action.h); anything else → RETRY.
//
// DIAGNOSTICS
//   Every outcome other than success is one log line with the program, the reason and the
//   first bytes of its stderr. Exit non-zero, killed by a signal, time-out, cannot start →
//   THREADMILL_RETRY (the runtime retries with backoff and parks the job after N attempts).
//   Stdout that is not a valid answer, or larger than max_output_bytes → THREADMILL_FAIL.
//   Session mode: see session.h.
//
// LIMITS
//   Built on threadmill/handler.hpp (it keeps the host table, catches exceptions at the ABI
//   boundary); config reading, log excerpts and the answer format come from handlers/common.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/common/action.h"
#include "handlers/common/config.h"
#include "handlers/common/envelope_json.h"
#include "handlers/common/excerpt.h"
#include "run_program.h"
#include "session.h"
#include "threadmill/handler.hpp"

namespace threadmill::handlers::exec {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";
constexpr int64_t kDefaultTimeoutSeconds = 30;
constexpr int64_t kDefaultMaxOutput = 1 << 20;
constexpr int64_t kDefaultMaxLine = 1 << 20;
constexpr int64_t kDefaultStderrLinesPerMinute = 60;
constexpr int64_t kDefaultRestartMaxSeconds = 60;

using common::ConfigInt;
using common::ConfigString;
using common::ConfigStringList;
using common::Excerpt;

struct ExecState {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  RunLimits limits;
  std::string who;  // "program /path" for log lines
  bool session = false;
  SessionSettings session_settings;
};

// The session-mode keys (read in either mode, so a typo fails at start-up).
bool LoadSessionConfig(const nlohmann::json& config, ExecState* st, std::string* error) {
  auto mode = ConfigString(config, "mode", "oneshot", error);
  auto max_line = ConfigInt(config, "max_line_bytes", kDefaultMaxLine, 1024, 64 << 20, error);
  auto stderr_lines =
      ConfigInt(config, "stderr_lines_per_minute", kDefaultStderrLinesPerMinute, 0, 100000, error);
  auto restart_max =
      ConfigInt(config, "restart_max_seconds", kDefaultRestartMaxSeconds, 1, 3600, error);
  if (!mode || !max_line || !stderr_lines || !restart_max) return false;
  if (*mode != "oneshot" && *mode != "session") {
    *error = "mode: expected \"oneshot\" or \"session\", not \"" + Excerpt(*mode, 40) + "\"";
    return false;
  }
  st->session = *mode == "session";
  SessionSettings& s = st->session_settings;
  s.argv = st->argv;
  s.env = st->env;
  s.timeout_ms = st->limits.timeout_ms;
  s.max_line_bytes = static_cast<size_t>(*max_line);
  s.stderr_lines_per_minute = static_cast<int>(*stderr_lines);
  s.restart_max_seconds = static_cast<int>(*restart_max);
  s.who = st->who;
  return true;
}

std::string StderrNote(const RunResult& r) {
  return r.err.empty() ? std::string() : "; stderr: " + Excerpt(r.err);
}

bool LoadConfig(const nlohmann::json& config, ExecState* st, std::string* error) {
  auto command = ConfigStringList(config, "command", error);
  if (!command) return false;
  if (command->empty() || (*command)[0].empty() || (*command)[0][0] != '/') {
    *error = "command: expected [\"/absolute/path/program\", \"arg\", ...]";
    return false;
  }
  auto timeout = ConfigInt(config, "timeout_seconds", kDefaultTimeoutSeconds, 1, 3600, error);
  auto max_out = ConfigInt(config, "max_output_bytes", kDefaultMaxOutput, 1, 64 << 20, error);
  auto path = ConfigString(config, "path", kDefaultPath, error);
  if (!timeout || !max_out || !path) return false;
  st->argv = std::move(*command);
  st->limits.timeout_ms = static_cast<int>(*timeout * 1000);
  st->limits.max_stdout = static_cast<size_t>(*max_out);
  st->env.push_back("PATH=" + *path);
  auto env = config.find("env");
  if (env != config.end() && !env->is_null()) {
    if (!env->is_object()) {
      *error = "env: expected a table of NAME = \"value\"";
      return false;
    }
    for (auto it = env->begin(); it != env->end(); ++it) {
      if (it.key().empty() || it.key().find('=') != std::string::npos || it.key() == "PATH" ||
          !it->is_string()) {
        *error = "env: bad entry \"" + it.key() + "\" (set PATH with the path key)";
        return false;
      }
      st->env.push_back(it.key() + "=" + it->get<std::string>());
    }
  }
  st->who = "program " + st->argv[0];
  if (access(st->argv[0].c_str(), X_OK) != 0) {
    *error = "command: " + st->argv[0] + " is not executable: " + std::strerror(errno);
    return false;
  }
  return LoadSessionConfig(config, st, error);
}

// Maps a finished run to a job status.
int Finish(Context& ctx, const threadmill_envelope& envelope, const ExecState& st,
           const RunResult& r) {
  using Outcome = RunResult::Outcome;
  switch (r.outcome) {
    case Outcome::kSpawnFailed:
      ctx.log(THREADMILL_LOG_ERROR,
              "cannot start " + st.who + ": " + std::strerror(r.error_number) + ", will retry");
      return THREADMILL_RETRY;
    case Outcome::kTimedOut:
      ctx.log(THREADMILL_LOG_WARN, st.who + " killed after " +
                                       std::to_string(st.limits.timeout_ms / 1000) +
                                       " s (timeout_seconds), will retry" + StderrNote(r));
      return THREADMILL_RETRY;
    case Outcome::kOutputTooLarge:
      ctx.log(THREADMILL_LOG_ERROR, st.who + " killed: its output passed max_output_bytes (" +
                                        std::to_string(st.limits.max_stdout) + ")" + StderrNote(r));
      return THREADMILL_FAIL;
    case Outcome::kSignaled:
      ctx.log(THREADMILL_LOG_WARN, st.who + " died of signal " + std::to_string(r.signal) +
                                       ", will retry" + StderrNote(r));
      return THREADMILL_RETRY;
    case Outcome::kWaitFailed:
      ctx.log(THREADMILL_LOG_ERROR,
              st.who + ": exit status unknown (" + std::strerror(r.error_number) + "), will retry");
      return THREADMILL_RETRY;
    case Outcome::kExited:
      break;
  }
  if (r.exit_code != 0) {
    ctx.log(THREADMILL_LOG_WARN, st.who + " exited with status " + std::to_string(r.exit_code) +
                                     ", will retry" + StderrNote(r));
    return THREADMILL_RETRY;
  }
  if (!r.err.empty()) ctx.log(THREADMILL_LOG_INFO, st.who + " stderr: " + Excerpt(r.err));
  common::ParsedAction parsed = common::ParseAction(r.out);
  if (!parsed.ok) {
    ctx.log(THREADMILL_LOG_ERROR,
            st.who + ": invalid answer (" + parsed.error + "): " + Excerpt(r.out));
    return THREADMILL_FAIL;
  }
  return common::ApplyAction(ctx, &envelope, parsed.action, st.who);
}

// One instance ([handler.NAME] with this module); the host's log lines name the instance.
class ExecHandler {
 public:
  ExecHandler(Context&, std::string_view config_json) {
    std::string error;
    auto config = common::ParseConfig(config_json, &error);
    if (!config || !LoadConfig(*config, &st_, &error)) {
      throw HandlerError(THREADMILL_INVALID, "bad configuration: " + error);
    }
    if (st_.session) session_ = std::make_unique<Session>(st_.session_settings);
  }
  int on_inbound(Context& ctx, const threadmill_envelope& envelope) {
    if (session_) return session_->Inbound(ctx, envelope);
    RunResult r = RunProgram(st_.argv, st_.env, common::EnvelopeToJsonText(envelope), st_.limits);
    return Finish(ctx, envelope, st_, r);
  }
  // One-shot programs have no heartbeat; a session program gets {"type":"heartbeat"}.
  int on_heartbeat(Context& ctx) { return session_ ? session_->Heartbeat(ctx) : THREADMILL_OK; }

 private:
  ExecState st_;
  std::unique_ptr<Session> session_;
};

}  // namespace
}  // namespace threadmill::handlers::exec

THREADMILL_CPP_HANDLER(threadmill::handlers::exec::ExecHandler, "exec")
