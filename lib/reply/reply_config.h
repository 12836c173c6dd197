// reply_config.h - the [reply] section: reply rules, rate limits and reinjection settings.
//
// DESCRIPTION
//   Parsed from Config::document (lib/config reserves the section). Defaults follow the
//   reply rules of DESIGN.md: DMARC required, once per message, reinjection through the MTA's
//   own /usr/sbin/sendmail with the From address as envelope sender. The rate limits are the
//   defaults of the reply policies (policy.h): vacation one reply per sender and handler per
//   day and at most 20 per thread; conversation 20 an hour and 200 in all per thread and the
//   loop guard. The handlers' and routes' own policies are read with it (policies).
//
// DIAGNOSTICS
//   ParseReplyConfig throws config::ConfigError ("FILE: reply.KEY: what is wrong").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "mail/auto_response.h"
#include "reply/policy.h"

namespace threadmill::reply {

// Envelope sender (MAIL FROM) of replies.
enum class EnvelopeSenderMode {
  kFrom,     // the reply's From address (SPF-aligned; default)
  kNull,     // <> (RFC 3834 section 3.3; some providers refuse it)
  kAddress,  // a dedicated address that never auto-responds
};

struct ReplyConfig {
  bool require_dmarc = true;                                   // reply.require_dmarc
  // reply.accept_arc_override: a dmarc=fail a trusted ARC sealer overrode ([auth]
  // arc_trusted_sealers) passes the require_dmarc gate.
  bool accept_arc_override = false;
  // reply.require_authenticated_sender: MAIL FROM itself authenticated (rules.h). Off only
  // for set-ups without authentication (test rigs without DNS): it re-opens reflection.
  bool require_authenticated_sender = true;
  std::vector<std::string> sendmail = {"/usr/sbin/sendmail"};  // fixed path + optional args
  EnvelopeSenderMode envelope_sender = EnvelopeSenderMode::kFrom;
  std::string envelope_sender_address;  // for kAddress
  // Reply policy defaults (policy.h); 0 = off / no cap.
  int64_t sender_period_seconds = 86400;              // vacation: per (sender, handler)
  int64_t max_replies_per_thread = 20;                // vacation
  int64_t thread_replies_per_hour = 20;               // conversation: per thread
  int64_t conversation_max_replies_per_thread = 200;  // conversation
  int64_t loop_turn_seconds = 30;                     // conversation loop guard
  int64_t loop_max_fast_turns = 5;                    // conversation loop guard
  PolicyTable policies;                               // [handler.NAME], [[routes]]
  int64_t sendmail_timeout_seconds = 60;
  int64_t sendmail_attempts = 3;           // tries per reply call
  int64_t sendmail_retry_delay_ms = 1000;  // doubled after each failure
  int64_t reinject_confirm_seconds = 90;   // echo wait when unsure; > pickup's 60 s rescan
  int64_t max_send_recipients = 50;        // host->send
  int64_t sends_per_hour = 100;            // host->send per handler (token bucket); 0 = off
  int64_t sends_per_job = 10;              // host->send per job or heartbeat call; 0 = off
  // reply_ex/send_ex: text + html + attachments + extra headers of one message ("too-large")
  int64_t max_message_bytes = 10 * 1024 * 1024;
  // reply.system_senders: local-part patterns never answered (mail/auto_response.h).
  std::vector<std::string> system_senders = mail::DefaultSystemSenders();
  size_t max_references = 100;             // from [threading]
  std::string hostname;                    // [milter] hostname (Message-IDs)
  // The reply ledger's claim owner (ledger.h, SEVERAL HOSTS): [store] host_id with backend =
  // "postgresql" ("" with LMDB: one host, no owners), and how long
  // another host's unsent claim counts as in progress: the longest job_timeout_seconds +
  // sendmail_timeout_seconds + reinject_confirm_seconds + 60 (set by runtime_config.cc; the
  // owner refreshes it when it starts sendmail, which runs at most sendmail_timeout_seconds
  // and is then confirmed within reinject_confirm_seconds).
  std::string host_id;
  int64_t claim_lease_seconds = 0;
  // Where the replier keeps the gate markers of its reinjections (gate_marker.h): the
  // spool's "gates" directory (set by runtime_config.cc); "" = none (a crash between the
  // ledger commit and sendmail's start then parks the reply uncertain).
  std::string gate_dir;
  // [threading] reply_token, token_key_files (the keys read), token_lifetime_days.
  config::ReplyTokenMode reply_token = config::ReplyTokenMode::kOff;
  std::vector<std::string> token_keys;
  int64_t token_lifetime_days = 90;
};

// The claim lease of ReplyConfig::claim_lease_seconds for jobs of at most
// `longest_job_timeout_seconds`.
int64_t ClaimLease(const ReplyConfig& reply, int64_t longest_job_timeout_seconds);

// Reads [reply] (and max_references from [threading]). Throws config::ConfigError.
ReplyConfig ParseReplyConfig(const config::Config& config);

}  // namespace threadmill::reply
