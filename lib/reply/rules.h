// rules.h - the reply rules threadmill enforces on every handler reply, whatever the handler.
//
// DESCRIPTION
//   InboundFacts is what the rules need to know about the message being answered; it is
//   built from the spooled message and the job's envelope (FactsFromHeaders fills the header
//   part) and stored with drafts, so an approved draft is judged like a direct reply.
//   CheckReplyRules returns "" when a reply is allowed, else a short reason keyword that is
//   returned to the handler (host->last_error) and logged:
//     no-message-id   the inbound message has no Message-ID: nothing to answer or dedup on
//     no-recipient    the job has no local recipient (no From domain for the reply)
//     dmarc           DMARC did not pass and [reply] require_dmarc is on
//     null-sender     MAIL FROM:<> (bounces, DSNs, other auto replies)
//     unauthenticated-sender
//                     the reply would go to MAIL FROM, and that address was not itself
//                     authenticated when the message arrived: neither SPF pass for its
//                     domain nor its organizational domain aligned with the DMARC-passing
//                     From (the milter decides, see lib/filter/reply_safety.h; an attacker
//                     signing with its own domain cannot reflect replies at a victim;
//                     [reply] require_authenticated_sender, on by default)
//     system-sender   MAILER-DAEMON, postmaster, noreply-style, owner-*, *-request, ...
//     auto-submitted  Auto-Submitted present and not "no"
//     precedence      Precedence: bulk, list or junk
//     list            List-Id, List-Unsubscribe, List-Post (or other List-*) present
//     references      more References than [threading] max_references (loop guard)
//   The once-per-message and rate-limit rules need the store: see ledger.h.
//
// STANDARDS
//   RFC 3834 section 2 (when not to respond automatically) and 3.3 (Auto-Submitted),
//   RFC 5230 section 4.5-4.6 (Sieve vacation: system senders, list and bulk mail),
//   RFC 2369/2919 (List-* headers).
//
// LIMITS
//   The sender checks look at the envelope sender (where replies go), the From header only
//   for the system-sender patterns. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/header.h"
#include "reply/reply_config.h"

namespace threadmill::reply {

struct InboundFacts {
  std::string message_id;               // normalized, without <>
  std::vector<std::string> references;  // normalized, in order (for the reply's References)
  size_t references_count = 0;          // as the milter counted it (may exceed the list)
  std::string subject;                  // decoded UTF-8
  std::string envelope_sender;          // MAIL FROM, "" for <>
  std::string from_address;             // From header address
  std::string recipient;                // the local recipient (user_id)
  std::string thread_id;
  std::string dmarc = "none";
  bool dmarc_arc_override = false;  // dmarc=fail overridden by a trusted ARC sealer (RFC 8617)
  bool sender_authenticated = false;  // MAIL FROM itself authenticated (see file comment)
  std::string auto_submitted;         // Auto-Submitted value, "" when absent
  std::string precedence;             // Precedence value, "" when absent
  bool list_headers = false;          // List-Id / List-Unsubscribe / List-Post / ...
};

// Fills the header-derived facts (message_id, references, references_count, subject,
// from_address, auto_submitted, precedence, list_headers) from a message's headers.
void FactsFromHeaders(const mail::HeaderList& headers, InboundFacts* facts);

// "" when replies are allowed, else the reason keyword (see file comment).
std::string CheckReplyRules(const InboundFacts& facts, const ReplyConfig& config);

// RFC 5230 4.6 style system or no-reply mailbox: MAILER-DAEMON, postmaster, noreply,
// no-reply, do-not-reply, donotreply, listserv, majordomo, owner-*, *-request, bounce*.
bool IsSystemSender(std::string_view address);

// Auto-Submitted value other than "no" (parameters and comments ignored).
bool IsAutoSubmitted(std::string_view value);
// Precedence bulk, list or junk.
bool IsBulkPrecedence(std::string_view value);

// The domain of an address ("" when it has none), lowercased.
std::string DomainOf(std::string_view address);

}  // namespace threadmill::reply
