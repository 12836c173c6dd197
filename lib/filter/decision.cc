#include "filter/decision.h"

#include "log/kv_line.h"

namespace threadmill::filter {

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
  line.Add("decision", decision);
  line.Add("reason", reason);
  for (const auto& [key, value] : auth_log) line.Add(key, value);
  if (!quarantine.empty()) line.Add("quarantine", "yes");
  for (const auto& [key, value] : extra_log) line.Add(key, value);
  if (!defects.empty()) line.Add("defects", defects.ToString());
  return line.str();
}

}  // namespace threadmill::filter
