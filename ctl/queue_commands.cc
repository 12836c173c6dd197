// queue_commands.cc - threadmillctl queue list|show|retry|park.
#include <chrono>
#include <cstdio>

#include "admin/actions.h"
#include "admin/store_access.h"
#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "runtime/handler_status.h"
#include "runtime/job_queue.h"
#include "runtime/runtime_config.h"
#include "store/environment.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;

namespace runtime_cli {
int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "threadmillctl: %s\n", TerminalText(message, true).c_str());
  return code;
}
}  // namespace runtime_cli

namespace {

using runtime_cli::Fail;

nlohmann::ordered_json JobJson(const runtime::Job& j, bool full) {
  nlohmann::ordered_json out = {{"id", j.id},
                                {"state", runtime::ToString(j.state)},
                                {"handler", j.handler},
                                {"attempts", j.attempts},
                                {"next_try", j.next_try},
                                {"queue_id", j.queue_id},
                                {"msgid", j.message_id.empty() ? "" : "<" + j.message_id + ">"},
                                {"last_error", j.last_error}};
  if (full) {
    out["created"] = j.created;
    out["updated"] = j.updated;
    out["mail_from"] = j.mail_from;
    out["recipient"] = j.recipient;
    out["client_addr"] = j.client_addr;
    out["helo"] = j.helo;
    out["thread"] = j.thread_id;
    out["thread_owner"] = j.thread_owner;
    out["references"] = j.references_count;
    out["dmarc"] = j.dmarc;
    out["spf"] = j.spf;
    out["dkim"] = j.dkim;
    out["no_reply_reason"] = j.no_reply_reason;
    out["reauth"] = j.reauth;
    out["route"] = j.route;
    out["size"] = j.size;
    out["file"] = j.file;
  }
  return out;
}

std::unique_ptr<runtime::JobQueue> OpenQueue(const config::Config& config, bool write) {
  return std::make_unique<runtime::JobQueue>(OpenEnvironment(config, write),
                                             config.store.path + "/spool");
}

}  // namespace

int RunQueueCommand(const config::Config& config, const std::vector<std::string>& words,
                    bool json) {
  if (words.size() < 2) return Fail("queue needs list|show|retry|park", 2);
  const std::string& sub = words[1];
  if (sub == "list") {
    std::optional<runtime::JobState> state;
    if (words.size() > 2) {
      runtime::JobState s;
      if (!runtime::ParseJobState(words[2], &s)) return Fail("unknown state " + words[2], 2);
      state = s;
    }
    auto jobs = OpenQueue(config, false)->List(100000, state);
    if (!jobs.ok()) return Fail(jobs.error().message);
    // Queued jobs of a handler the supervisor does not run wait until a reload loads it.
    auto loaded = runtime::ReadLoadedHandlers(config.store.path + "/spool");
    auto waiting = [&](const runtime::Job& j) {
      return loaded && j.state == runtime::JobState::kQueued && !loaded->count(j.handler);
    };
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& j : *jobs) {
      out.push_back(JobJson(j, false));
      if (waiting(j)) out.back()["waiting"] = "handler-not-loaded";
    }
    if (json) {
      Print(out, true);
    } else {
      for (const auto& j : *jobs) {
        std::string note = waiting(j) ? "waiting: handler not loaded " : "";
        std::printf("%s  %-7s  %-12s  attempts=%u  queue_id=%s  <%s>  %s%s\n",
                    TerminalText(j.id).c_str(), runtime::ToString(j.state),
                    TerminalText(j.handler).c_str(), j.attempts, TerminalText(j.queue_id).c_str(),
                    TerminalText(j.message_id).c_str(), note.c_str(),
                    TerminalText(j.last_error).c_str());
      }
    }
    return 0;
  }
  if (words.size() != 3) return Fail("queue " + sub + " needs one JOB_ID", 2);
  const std::string& id = words[2];
  if (sub == "show") {
    auto job = OpenQueue(config, false)->Get(id);
    if (!job.ok()) return Fail(job.error().message);
    if (!job->has_value()) return Fail("job " + id + " not found");
    Print(JobJson(**job, true), json);
    return 0;
  }
  if (sub == "retry" || sub == "park") {
    admin::Actions actions(config, OpenEnvironment(config, true));
    auto job = sub == "retry" ? actions.RetryJob(id) : actions.ParkJob(id);
    if (!job.ok()) return Fail(job.error().message);
    Print(JobJson(*job, false), json);
    return 0;
  }
  return Fail("unknown queue command \"" + sub + "\"", 2);
}

}  // namespace threadmill::ctl
