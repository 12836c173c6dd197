// vacation_rules.h - when a vacation-style autoreply must stay silent.
//
// STANDARDS
//   RFC 5230 (Sieve vacation) 4.5 and 4.6, RFC 3834 (automatic responses) section 2.
//
// DESCRIPTION
//   SilenceReason returns why no autoreply may go to a message, or "" when one may:
//   - the null envelope sender;
//   - envelope flags from threadmill: Auto-Submitted other than "no", list, bulk/junk, or a
//     reply threadmill already knows it will refuse;
//   - the same in the headers (defence in depth): Auto-Submitted, Precedence bulk/junk/list,
//     any List-* field, and Microsoft's X-Auto-Response-Suppress (All, OOF, AutoReply);
//   - system senders: MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request, and the
//     no-reply family (noreply, no-reply, donotreply, do-not-reply);
//   - mail from one of the user's own addresses;
//   - with `require_addressed`, mail whose To/Cc/Bcc/Resent-To/Resent-Cc/Resent-Bcc names none
//     of the user's addresses (RFC 5230 4.5: do not answer Bcc'd lists and aliases).
//
// LIMITS
//   Addresses are found in header values by splitting on address delimiters, not by a full
//   RFC 5322 parse: a quoted display name that contains an address counts as naming it.
#pragma once

#include <string>
#include <vector>

#include "threadmill/handler.h"

namespace threadmill::handlers::autoreply {

// `my_addresses` are lower-case; an empty list skips the addressed-to-me check.
std::string SilenceReason(const threadmill_envelope& envelope,
                          const std::vector<std::string>& my_addresses, bool require_addressed);

// ASCII lower-case copy.
std::string Lower(std::string s);

}  // namespace threadmill::handlers::autoreply
