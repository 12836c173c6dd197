// reply_safety.h - may an automatic reply ever answer this inbound message?
//
// DESCRIPTION
//   The checks that need only the message itself, so they are decided once, in the milter,
//   and travel with the message to handlers (the envelope's no_reply_reason and flags):
//     references      more References than max_references (a mail loop, or abuse)
//     auto-submitted  Auto-Submitted other than "no" (RFC 3834 section 5)
//     list            List-Id / List-Unsubscribe / List-Post, Precedence: list (RFC 2369/2919)
//     bulk            Precedence: bulk or junk (RFC 3834 section 3.1.8 practice)
//     null-sender     MAIL FROM:<> (bounces, RFC 5321 section 4.5.5)
//     system-sender   MAILER-DAEMON, postmaster, owner-*, *-request, noreply-style locals
//   DMARC is decided by the reply rules with the message's verdicts; it is not repeated here.
#pragma once

#include <string>

#include "filter/envelope.h"
#include "filter/message_headers.h"

namespace threadmill::filter {

// The first reason that applies, or "" when automatic replies are allowed.
std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references);

// Flags for the handler envelope.
bool IsAutoSubmitted(const MessageHeaders& headers);
bool IsListMail(const MessageHeaders& headers);
bool IsBulkMail(const MessageHeaders& headers);
bool IsSystemSender(const std::string& address);

}  // namespace threadmill::filter
