#include "filter/decision.h"

#include "log/kv_line.h"

namespace threadmill::filter {

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kRecorded:
      return "recorded";
    case Outcome::kMatched:
      return "matched";
    case Outcome::kNewThread:
      return "new-thread";
    case Outcome::kQueued:
      return "queued";
    case Outcome::kNoReply:
      return "no-reply";
    case Outcome::kError:
      return "error";
    case Outcome::kUnthreaded:
      return "unthreaded";
  }
  return "error";
}

const char* Decision::dmarc_result() const {
  return verdicts && verdicts->dmarc_checked ? auth::ToString(verdicts->dmarc.result) : "none";
}

const char* Decision::spf_result() const {
  return verdicts && verdicts->spf_checked ? auth::ToString(verdicts->spf.result) : "none";
}

const char* Decision::dkim_result() const {
  return verdicts ? auth::ToString(verdicts->DkimSummary()) : "none";
}

std::string Decision::LogLine(const Envelope& envelope) const {
  log::KvLine line(envelope.queue_id.empty() ? "NOQUEUE: " : envelope.queue_id + ": ");
  line.Add("direction", store::ToString(direction));
  line.AddBracketed("from", envelope.mail_from, /*empty_as_bracket=*/true);
  std::string to;
  for (const auto& rcpt : envelope.recipients) {
    if (!to.empty()) to += ',';
    to += '<' + rcpt + '>';
  }
  line.Add("to", to);
  line.AddBracketed("msgid", message_id, false);
  line.Add("refs", static_cast<int64_t>(references));
  line.Add("thread", resolution.thread_id);
  line.Add("match", thread::ToString(resolution.method));
  line.AddBracketed("parent", resolution.parent, false);
  line.Add("decision", ToString(outcome));
  line.Add("reason", reason);
  if (verdicts) {
    for (const auto& [key, value] : verdicts->SummaryFields()) line.Add(key, value);
  }
  if (!quarantine.empty()) line.Add("quarantine", "yes");
  for (const auto& [key, value] : extra_log) line.Add(key, value);
  if (!defects.empty()) line.Add("defects", defects.ToString());
  return line.str();
}

}  // namespace threadmill::filter
