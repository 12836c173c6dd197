#include "reply/reply_config.h"

#include "config/toml_reader.h"

namespace threadmill::reply {

int64_t ClaimLease(const ReplyConfig& reply, int64_t longest_job_timeout_seconds) {
  return longest_job_timeout_seconds + reply.sendmail_timeout_seconds +
         reply.reinject_confirm_seconds + 60;
}

ReplyConfig ParseReplyConfig(const config::Config& config) {
  ReplyConfig out;
  out.max_references = config.threading.max_references;
  out.hostname = config.milter.hostname;
  // Claim owners matter only between hosts sharing a database; a single LMDB host that was
  // renamed must still resume its own pending replies.
  if (config.store.backend == "postgresql") out.host_id = config.store.host_id;
  out.reply_token = config.threading.reply_token;
  out.token_keys = config.threading.token_keys;
  out.token_lifetime_days = config.threading.token_lifetime_days;
  config::TomlReader r(config::SectionTable(config, "reply"), "reply",
                       config::ConfigFileName(config));
  r.RejectUnknown({"require_dmarc", "require_authenticated_sender", "sendmail", "envelope_sender",
                   "sender_period_seconds", "max_replies_per_thread", "sendmail_timeout_seconds",
                   "sendmail_attempts", "sendmail_retry_delay_ms", "max_send_recipients",
                   "sends_per_hour", "sends_per_job", "reinject_confirm_seconds",
                   "thread_replies_per_hour", "conversation_max_replies_per_thread",
                   "loop_turn_seconds", "loop_max_fast_turns", "max_message_bytes",
                   "system_senders", "accept_arc_override"});
  r.Get("require_dmarc", &out.require_dmarc);
  r.Get("accept_arc_override", &out.accept_arc_override);
  r.Get("require_authenticated_sender", &out.require_authenticated_sender);
  r.Get("sendmail", &out.sendmail);
  if (out.sendmail.empty()) r.Fail("sendmail", "must name the sendmail program");
  if (out.sendmail.front().empty() || out.sendmail.front().front() != '/') {
    r.Fail("sendmail", "the program must be an absolute path (no shell, no PATH search)");
  }
  std::string sender = "from";
  r.Get("envelope_sender", &sender);
  if (sender == "from") {
    out.envelope_sender = EnvelopeSenderMode::kFrom;
  } else if (sender == "<>" || sender == "null") {
    out.envelope_sender = EnvelopeSenderMode::kNull;
  } else if (sender.find('@') != std::string::npos &&
             sender.find_first_of(" <>\t") == std::string::npos) {
    out.envelope_sender = EnvelopeSenderMode::kAddress;
    out.envelope_sender_address = sender;
  } else {
    r.Fail("envelope_sender", "must be \"from\", \"<>\" or an address (got \"" + sender + "\")");
  }
  r.Get("sender_period_seconds", &out.sender_period_seconds, 0, int64_t{10} * 365 * 86400);
  r.Get("max_replies_per_thread", &out.max_replies_per_thread, 0, 1000000);
  r.Get("thread_replies_per_hour", &out.thread_replies_per_hour, 0, 1000000);
  r.Get("conversation_max_replies_per_thread", &out.conversation_max_replies_per_thread, 0,
        1000000);
  r.Get("loop_turn_seconds", &out.loop_turn_seconds, 0, 86400);
  r.Get("loop_max_fast_turns", &out.loop_max_fast_turns, 0, 1000000);
  out.policies = ParsePolicies(config);
  r.Get("sendmail_timeout_seconds", &out.sendmail_timeout_seconds, 1, 3600);
  r.Get("sendmail_attempts", &out.sendmail_attempts, 1, 20);
  r.Get("sendmail_retry_delay_ms", &out.sendmail_retry_delay_ms, 0, 600000);
  r.Get("max_send_recipients", &out.max_send_recipients, 1, 10000);
  r.Get("reinject_confirm_seconds", &out.reinject_confirm_seconds, 0, 3600);
  r.Get("sends_per_hour", &out.sends_per_hour, 0, 1000000);
  r.Get("sends_per_job", &out.sends_per_job, 0, 10000);
  r.Get("max_message_bytes", &out.max_message_bytes, 1024, int64_t{100} * 1024 * 1024);
  r.Get("system_senders", &out.system_senders);
  for (const std::string& pattern : out.system_senders) {
    if (std::string why = mail::CheckSystemSenderPattern(pattern); !why.empty()) {
      r.Fail("system_senders", "\"" + pattern + "\": " + why);
    }
  }
  out.claim_lease_seconds = ClaimLease(out, 60);
  return out;
}

}  // namespace threadmill::reply
