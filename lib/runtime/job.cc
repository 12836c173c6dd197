#include "runtime/job.h"

#include <nlohmann/json.hpp>

#include "store/thread_store.h"

namespace threadmill::runtime {

using nlohmann::json;

const char* ToString(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kParked:
      return "parked";
    case JobState::kDone:
      return "done";
  }
  return "queued";
}

bool ParseJobState(std::string_view text, JobState* out) {
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kParked, JobState::kDone}) {
    if (text == ToString(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

std::string EncodeJob(const Job& j) {
  json out = {{"v", 1},
              {"id", j.id},
              {"handler", j.handler},
              {"state", ToString(j.state)},
              {"attempts", j.attempts},
              {"next_try", j.next_try},
              {"created", j.created},
              {"updated", j.updated},
              {"last_error", j.last_error},
              {"mail_from", j.mail_from},
              {"recipient", j.recipient},
              {"client_addr", j.client_addr},
              {"helo", j.helo},
              {"queue_id", j.queue_id},
              {"msgid", j.message_id},
              {"thread", j.thread_id},
              {"thread_owner", j.thread_owner},
              {"parent", j.parent_message_id},
              {"thread_known", j.thread_known},
              {"refs", j.references_count},
              {"dmarc", j.dmarc},
              {"spf", j.spf},
              {"dkim", j.dkim},
              {"no_reply", j.no_reply_reason},
              {"sender_auth", j.sender_authenticated},
              {"reauth", j.reauth},
              {"arc_override", j.arc_override},
              {"route", j.route},
              {"received", j.received_time},
              {"size", j.size},
              {"file", j.file},
              {"kind", j.kind},
              {"draft", j.draft_id}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Job> DecodeJob(std::string_view text) {
  try {
    json in = json::parse(text);
    Job j;
    j.id = in.value("id", "");
    j.handler = in.value("handler", "");
    if (!ParseJobState(in.value("state", "queued"), &j.state)) j.state = JobState::kQueued;
    j.attempts = in.value("attempts", 0u);
    j.next_try = in.value("next_try", int64_t{0});
    j.created = in.value("created", int64_t{0});
    j.updated = in.value("updated", int64_t{0});
    j.last_error = in.value("last_error", "");
    j.mail_from = in.value("mail_from", "");
    j.recipient = in.value("recipient", "");
    j.client_addr = in.value("client_addr", "");
    j.helo = in.value("helo", "");
    j.queue_id = in.value("queue_id", "");
    j.message_id = in.value("msgid", "");
    j.thread_id = in.value("thread", "");
    j.thread_owner = in.value("thread_owner", "");
    j.parent_message_id = in.value("parent", "");
    j.thread_known = in.value("thread_known", false);
    j.references_count = in.value("refs", 0u);
    j.dmarc = in.value("dmarc", "none");
    j.spf = in.value("spf", "none");
    j.dkim = in.value("dkim", "none");
    j.no_reply_reason = in.value("no_reply", "");
    j.sender_authenticated = in.value("sender_auth", false);
    j.reauth = in.value("reauth", "");
    j.arc_override = in.value("arc_override", false);
    j.route = in.value("route", "");
    j.received_time = in.value("received", int64_t{0});
    j.size = in.value("size", uint64_t{0});
    j.file = in.value("file", "");
    j.kind = in.value("kind", "");
    j.draft_id = in.value("draft", "");
    return j;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kStore, std::string("spool: corrupt job record: ") + e.what());
  }
}

std::string NewJobId() {
  std::string id = store::ThreadStore::NewThreadId();
  id[0] = 'J';
  return id;
}

int64_t RetryDelay(uint32_t attempts, int64_t initial, int64_t max) {
  if (attempts == 0) attempts = 1;
  int64_t delay = initial;
  for (uint32_t i = 1; i < attempts && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

}  // namespace threadmill::runtime
