// exec.cc - the "exec" handler: runs a configured program for each inbound message, with the
// envelope as JSON on its stdin; the program's stdout (JSON) says reply, draft or nothing. So
// handlers can be written in any language.
//
// DESCRIPTION
//   [handler.exec] config: command (argv, absolute program path, no shell), timeout_seconds,
//   max_output_bytes, path, env. See handlers/exec/README.md. The program runs with a cleared
//   environment (PATH, plus the configured env), its own process group, no inherited
//   descriptors besides its three pipes, and is killed with its group at the time-out.
//   Exit status 0 → the answer on stdout is carried out (action.h); anything else → RETRY.
//
// DIAGNOSTICS
//   Every outcome other than success is one log line with the program, the reason and the
//   first bytes of its stderr. Exit non-zero, killed by a signal, time-out, cannot start →
//   THREADMILL_RETRY (the runtime retries with backoff and parks the job after N attempts).
//   Stdout that is not a valid answer, or larger than max_output_bytes → THREADMILL_FAIL.
//
// LIMITS
//   The ABI gives on_inbound no host table, so the one from init is kept in a module-level
//   pointer (the host promises it lives as long as the module is loaded).
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "action.h"
#include "envelope_json.h"
#include "run_program.h"
#include "support.h"
#include "threadmill/handler.h"

namespace threadmill::handlers::exec {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";
constexpr int64_t kDefaultTimeoutSeconds = 30;
constexpr int64_t kDefaultMaxOutput = 1 << 20;

HostTable g_host;

struct ExecState {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  RunLimits limits;
  std::string who;  // "program /path" for log lines
};

// The first bytes of s with control characters shown as spaces, for one log line.
std::string Excerpt(const std::string& s, size_t max = 300) {
  std::string out = s.substr(0, max);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (s.size() > max) out += "...";
  return out;
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
  return true;
}

int Init(threadmill_ctx* ctx, const threadmill_host_api* host, const char* config_json,
         void** state) noexcept {
  try {
    if (!state || !g_host.Keep(host)) return THREADMILL_INVALID;
    std::string error;
    auto config = ParseConfig(config_json, &error);
    auto st = std::make_unique<ExecState>();
    if (!config || !LoadConfig(*config, st.get(), &error)) {
      HostLog(ctx, host, THREADMILL_LOG_ERROR, "exec: bad configuration: " + error);
      return THREADMILL_INVALID;
    }
    *state = st.release();
    return THREADMILL_OK;
  } catch (...) {
    return THREADMILL_INTERNAL;
  }
}

// Maps a finished run to a job status.
int Finish(threadmill_ctx* ctx, const threadmill_host_api* host,
           const threadmill_envelope& envelope, const ExecState& st, const RunResult& r) {
  using Outcome = RunResult::Outcome;
  switch (r.outcome) {
    case Outcome::kSpawnFailed:
      HostLog(ctx, host, THREADMILL_LOG_ERROR,
              "cannot start " + st.who + ": " + std::strerror(r.error_number) + ", will retry");
      return THREADMILL_RETRY;
    case Outcome::kTimedOut:
      HostLog(ctx, host, THREADMILL_LOG_WARN,
              st.who + " killed after " + std::to_string(st.limits.timeout_ms / 1000) +
                  " s (timeout_seconds), will retry" + StderrNote(r));
      return THREADMILL_RETRY;
    case Outcome::kOutputTooLarge:
      HostLog(ctx, host, THREADMILL_LOG_ERROR,
              st.who + " killed: its output passed max_output_bytes (" +
                  std::to_string(st.limits.max_stdout) + ")" + StderrNote(r));
      return THREADMILL_FAIL;
    case Outcome::kSignaled:
      HostLog(
          ctx, host, THREADMILL_LOG_WARN,
          st.who + " died of signal " + std::to_string(r.signal) + ", will retry" + StderrNote(r));
      return THREADMILL_RETRY;
    case Outcome::kWaitFailed:
      HostLog(ctx, host, THREADMILL_LOG_ERROR,
              st.who + ": exit status unknown (" + std::strerror(r.error_number) + "), will retry");
      return THREADMILL_RETRY;
    case Outcome::kExited:
      break;
  }
  if (r.exit_code != 0) {
    HostLog(ctx, host, THREADMILL_LOG_WARN,
            st.who + " exited with status " + std::to_string(r.exit_code) + ", will retry" +
                StderrNote(r));
    return THREADMILL_RETRY;
  }
  if (!r.err.empty())
    HostLog(ctx, host, THREADMILL_LOG_INFO, st.who + " stderr: " + Excerpt(r.err));
  ParsedAction parsed = ParseAction(r.out);
  if (!parsed.ok) {
    HostLog(ctx, host, THREADMILL_LOG_ERROR,
            st.who + ": invalid answer (" + parsed.error + "): " + Excerpt(r.out));
    return THREADMILL_FAIL;
  }
  return ApplyAction(ctx, host, envelope, parsed.action, st.who);
}

int OnInbound(threadmill_ctx* ctx, const threadmill_envelope* envelope) noexcept {
  const threadmill_host_api* host = g_host.Get();
  if (!host || !envelope) return THREADMILL_FAIL;
  try {
    const auto* st = static_cast<const ExecState*>(host->state(ctx));
    if (!st) return THREADMILL_FAIL;
    RunResult r = RunProgram(st->argv, st->env, EnvelopeToJsonText(*envelope), st->limits);
    return Finish(ctx, host, *envelope, *st, r);
  } catch (const std::bad_alloc&) {
    HostLog(ctx, host, THREADMILL_LOG_ERROR, "exec: out of memory, will retry");
    return THREADMILL_RETRY;
  } catch (...) {
    HostLog(ctx, host, THREADMILL_LOG_ERROR, "exec: internal error, will retry");
    return THREADMILL_RETRY;
  }
}

void Fini(void* state) noexcept { delete static_cast<ExecState*>(state); }

const threadmill_handler kHandler = {
    sizeof(threadmill_handler),
    THREADMILL_ABI_MAJOR,
    THREADMILL_ABI_MINOR,
    "exec",
    Init,
    OnInbound,
    nullptr,
    Fini,
};

}  // namespace
}  // namespace threadmill::handlers::exec

extern "C" THREADMILL_EXPORT const threadmill_handler* threadmill_handler_v1(void) {
  return &threadmill::handlers::exec::kHandler;
}
