// session.cc - see session.h.
#include "session.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "handlers/common/bridge_calls.h"
#include "handlers/common/excerpt.h"
#include "handlers/common/json_lines.h"

namespace threadmill::handlers::exec {
namespace {

using common::Excerpt;
using common::ProgramLine;
using Io = ProgramSession::Io;

int StatusOf(ProgramLine::Status s) {
  switch (s) {
    case ProgramLine::Status::kOk:
      return THREADMILL_OK;
    case ProgramLine::Status::kRetry:
      return THREADMILL_RETRY;
    case ProgramLine::Status::kFail:
      return THREADMILL_FAIL;
  }
  return THREADMILL_FAIL;
}

}  // namespace

Session::Session(SessionSettings settings) : s_(std::move(settings)), program_(s_.max_line_bytes) {}

Session::~Session() { program_.Stop(s_.stop_grace_ms); }

int Session::Inbound(Context& ctx, const threadmill_envelope& envelope) {
  uint64_t id = next_id_++;
  return RunEvent(ctx, &envelope, id, common::InboundLine(id, envelope));
}

int Session::Heartbeat(Context& ctx) {
  uint64_t id = next_id_++;
  return RunEvent(ctx, nullptr, id, common::HeartbeatLine(id));
}

void Session::LogStderr(Context& ctx) {
  size_t dropped = 0;
  std::vector<std::string> lines = program_.TakeStderr(&dropped);
  const int64_t now = NowMs();
  if (now - window_start_ms_ >= 60000) {
    if (window_dropped_ > 0) {
      ctx.log(THREADMILL_LOG_WARN, s_.who + ": " + std::to_string(window_dropped_) +
                                       " stderr lines not logged (stderr_lines_per_minute = " +
                                       std::to_string(s_.stderr_lines_per_minute) + ")");
    }
    window_start_ms_ = now;
    window_lines_ = 0;
    window_dropped_ = 0;
  }
  if (dropped > 0) {
    ctx.log(THREADMILL_LOG_WARN,
            s_.who + ": " + std::to_string(dropped) + " stderr lines dropped (more than " +
                std::to_string(ProgramSession::kMaxStderrLines) + " between two reads)");
  }
  for (const std::string& line : lines) {
    if (window_lines_ >= s_.stderr_lines_per_minute) {
      if (window_dropped_++ == 0) {
        ctx.log(THREADMILL_LOG_WARN, s_.who + ": stderr_lines_per_minute (" +
                                         std::to_string(s_.stderr_lines_per_minute) +
                                         ") reached, more stderr lines this minute are not logged");
      }
      continue;
    }
    window_lines_++;
    ctx.log(THREADMILL_LOG_INFO, s_.who + " stderr: " + Excerpt(line));
  }
}

bool Session::EnsureStarted(Context& ctx) {
  if (program_.running()) return true;
  const int64_t now = NowMs();
  if (now < not_before_ms_) {
    ctx.log(THREADMILL_LOG_WARN,
            s_.who + " restarts in " + std::to_string((not_before_ms_ - now + 999) / 1000) +
                " s (back-off after " + std::to_string(failures_) + " failures), will retry");
    return false;
  }
  int rc = program_.Start(s_.argv, s_.env);
  if (rc != 0) {
    Abandon(ctx, THREADMILL_LOG_ERROR, "cannot start: " + std::string(std::strerror(rc)),
            THREADMILL_RETRY);
    return false;
  }
  ctx.log(THREADMILL_LOG_INFO,
          s_.who + " started (session mode, pid " + std::to_string(program_.pid()) + ")");
  Io io = program_.Write(common::StartLine(common::CallNames()), NowMs() + s_.timeout_ms);
  if (io != Io::kOk) {
    Abandon(ctx, THREADMILL_LOG_WARN, "did not take its start line", THREADMILL_RETRY);
    return false;
  }
  return true;
}

int Session::Abandon(Context& ctx, int level, const std::string& why, int status) {
  std::string how = program_.Stop(0);
  LogStderr(ctx);
  failures_++;
  // The first failure restarts at once; then 1 s, 2 s, 4 s ... up to restart_max_seconds.
  int64_t backoff_ms = failures_ <= 1
                           ? 0
                           : std::min<int64_t>(int64_t{1000} << std::min(failures_ - 2, 20),
                                               int64_t{s_.restart_max_seconds} * 1000);
  not_before_ms_ = NowMs() + backoff_ms;
  ctx.log(level, s_.who + ": " + why + (how.empty() ? "" : "; program " + how) +
                     (status == THREADMILL_RETRY ? ", will retry" : ", job failed") +
                     " (restart in " + std::to_string(backoff_ms / 1000) + " s)");
  return status;
}

int Session::RunEvent(Context& ctx, const threadmill_envelope* envelope, uint64_t id,
                      const std::string& line) {
  if (!EnsureStarted(ctx)) return THREADMILL_RETRY;
  const std::string event = (envelope ? "inbound event " : "heartbeat event ") + std::to_string(id);
  int64_t deadline = NowMs() + s_.timeout_ms;
  auto io_failure = [&](Io io, const char* doing) {
    LogStderr(ctx);
    switch (io) {
      case Io::kTimeout:
        return Abandon(ctx, THREADMILL_LOG_WARN,
                       event + " not done within " + std::to_string(s_.timeout_ms / 1000) +
                           " s (timeout_seconds)",
                       THREADMILL_RETRY);
      case Io::kTooLong:
        return Abandon(ctx, THREADMILL_LOG_ERROR,
                       "protocol error in " + event + ": a line longer than max_line_bytes (" +
                           std::to_string(s_.max_line_bytes) + ")",
                       THREADMILL_FAIL);
      default:
        return Abandon(ctx, THREADMILL_LOG_WARN, std::string("ended while ") + doing + " " + event,
                       THREADMILL_RETRY);
    }
  };
  Io io = program_.Write(line, deadline);
  if (io != Io::kOk) return io_failure(io, "receiving");
  common::CallScope scope{ctx, envelope};
  for (;;) {
    std::string got;
    io = program_.Read(&got, deadline);
    LogStderr(ctx);
    if (io != Io::kOk) return io_failure(io, "working on");
    ProgramLine msg = common::ParseProgramLine(got);
    if (msg.kind == ProgramLine::Kind::kInvalid) {
      return Abandon(ctx, THREADMILL_LOG_ERROR,
                     "protocol error in " + event + ": " + msg.error + ": " + Excerpt(got),
                     THREADMILL_FAIL);
    }
    if (msg.kind == ProgramLine::Kind::kDone) {
      if (msg.done != id) {
        return Abandon(
            ctx, THREADMILL_LOG_ERROR,
            "protocol error: done " + std::to_string(msg.done) + " while " + event + " runs",
            THREADMILL_FAIL);
      }
      failures_ = 0;
      int status = StatusOf(msg.status);
      if (status != THREADMILL_OK || !msg.reason.empty()) {
        ctx.log(status == THREADMILL_OK ? THREADMILL_LOG_INFO : THREADMILL_LOG_WARN,
                s_.who + ": " + event + " " +
                    (status == THREADMILL_OK      ? "done"
                     : status == THREADMILL_RETRY ? "to be retried"
                                                  : "failed") +
                    (msg.reason.empty() ? "" : ": " + Excerpt(msg.reason)));
      }
      return status;
    }
    // A call: the time threadmill spends on it is not the program's.
    const int64_t started = NowMs();
    common::CallOutcome outcome = common::RunCall(scope, msg.request);
    if (!outcome.status.ok() && outcome.status.code != THREADMILL_REFUSED &&
        outcome.status.code != THREADMILL_NOT_FOUND) {
      ctx.log(THREADMILL_LOG_INFO, s_.who + ": call " + Excerpt(msg.call, 40) +
                                       " failed: " + common::StatusName(outcome.status.code) + " " +
                                       Excerpt(outcome.status.reason));
    }
    deadline += NowMs() - started;
    if (msg.req.is_null()) continue;
    io = program_.Write(common::AnswerLine(msg.req, common::AnswerJson(outcome)), deadline);
    if (io != Io::kOk) return io_failure(io, "receiving an answer in");
  }
}

}  // namespace threadmill::handlers::exec
