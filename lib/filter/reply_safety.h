// reply_safety.h - may an automatic reply ever answer this inbound message?
//
// DESCRIPTION
//   The checks that need only the message itself and its verdicts, decided once in the milter
//   so the decision line says why (noreply=...) and handlers see it in their envelope
//   (no_reply_reason, flags):
//     references      more References than max_references (a mail loop, or abuse)
//     auto-submitted  Auto-Submitted other than "no" (RFC 3834 section 5)
//     precedence      Precedence: bulk, list or junk (RFC 3834 section 3.1.8 practice)
//     list            List-* header fields (RFC 2369, RFC 2919)
//     null-sender     MAIL FROM:<> (bounces, RFC 5321 section 4.5.5)
//     system-sender   MAILER-DAEMON, postmaster, owner-*, *-request, noreply-style senders
//     unauthenticated-sender
//                     the reply would go to MAIL FROM, which nothing authenticated
//   The predicates are the reply rules' own (lib/reply/rules.h), so the milter's verdict and
//   the rules a reply meets later never disagree. DMARC is checked by the reply rules with
//   the message's verdicts; it is not repeated here.
//
//   SenderAuthenticated is the reply-reflection guard. DMARC authenticates the header From,
//   but replies go to MAIL FROM: an attacker signing with its own domain could set
//   MAIL FROM:<victim@...> and have threadmill answer the victim. MAIL FROM counts as
//   authenticated only when
//     - SPF passed for MAIL FROM itself (the checked identity's domain is MAIL FROM's), or
//     - DMARC passed and MAIL FROM's organizational domain (RFC 7489 section 3.2, Public
//       Suffix List) equals the From domain's (relaxed alignment, as DMARC's own SPF
//       alignment; without a PSL only the same domain counts).
//   The result is carried into the job (Job::sender_authenticated) and enforced again by the
//   reply rules when a handler replies.
//
// STANDARDS
//   RFC 7208 (SPF: MAIL FROM identity), RFC 7489 sections 3.1-3.2 (alignment,
//   organizational domain), RFC 3834 section 2 (whom to answer).
//
// LIMITS
//   Local parts are never authenticated by SPF or DMARC: any mailbox of an authenticated
//   domain counts. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "auth/psl.h"
#include "auth/verdicts.h"
#include "filter/envelope.h"
#include "filter/message_headers.h"

namespace threadmill::filter {

// The first reason that applies, or "" when automatic replies are allowed.
std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references, bool sender_authenticated);

// See file comment. `verdicts` null (no authentication ran) and `psl` null (no organizational
// domains: exact domain match only) are allowed.
bool SenderAuthenticated(std::string_view mail_from, const auth::Verdicts* verdicts,
                         const auth::PublicSuffixList* psl);

}  // namespace threadmill::filter
