// reply_safety.h - may an automatic reply ever answer this inbound message?
//
// DESCRIPTION
//   The checks that need only the message itself, decided once in the milter so the decision
//   line says why (noreply=...) and handlers see it in their envelope (no_reply_reason, flags):
//     references      more References than max_references (a mail loop, or abuse)
//     auto-submitted  Auto-Submitted other than "no" (RFC 3834 section 5)
//     precedence      Precedence: bulk, list or junk (RFC 3834 section 3.1.8 practice)
//     list            List-* header fields (RFC 2369, RFC 2919)
//     null-sender     MAIL FROM:<> (bounces, RFC 5321 section 4.5.5)
//     system-sender   MAILER-DAEMON, postmaster, owner-*, *-request, noreply-style senders
//   The predicates are the reply rules' own (lib/reply/rules.h), so the milter's verdict and
//   the rules a reply meets later never disagree. DMARC is checked by the reply rules with
//   the message's verdicts; it is not repeated here.
#pragma once

#include <string>

#include "filter/envelope.h"
#include "filter/message_headers.h"

namespace threadmill::filter {

// The first reason that applies, or "" when automatic replies are allowed.
std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references);

}  // namespace threadmill::filter
