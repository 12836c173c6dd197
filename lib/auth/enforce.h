// enforce.h - the DMARC enforcement decision (reject / quarantine / nothing).
//
// DESCRIPTION
//   DecideDmarcEnforcement() turns Verdicts into what the milter should do when the
//   administrator enabled enforcement (off by default, like OpenDMARC's RejectFailures):
//   a DMARC "fail" is enforced, with the disposition the policy asks for after pct
//   sampling; so is a "permerror" that carries a disposition - several author domains
//   where one fails (its strictest policy), or more author domains than
//   max_author_domains (reject) - see dmarc.h. temperror, none and a permerror without a
//   disposition (a broken record) are never enforced (the failure policy decides for
//   temperror). The SMTP reply says why. A "fail" overridden by a trusted ARC sealer
//   (Verdicts::arc_override, RFC 8617 section 7.2) is not enforced.
//
// STANDARDS
//   RFC 7489 sections 6.6.4 and 10.3 (rejecting with 550 5.7.1), RFC 3463 (5.7.1).
#pragma once

#include <string>

#include "auth/verdicts.h"

namespace threadmill::auth {

struct EnforceDecision {
  DmarcPolicy action = DmarcPolicy::kNone;
  std::string smtp_code;      // "550" for reject, empty otherwise
  std::string enhanced;       // "5.7.1"
  std::string text;           // "rejected by DMARC policy for example.org"
  std::string Reply() const;  // "550 5.7.1 rejected by DMARC policy for example.org"
};

EnforceDecision DecideDmarcEnforcement(const Verdicts& verdicts, bool enforce);

}  // namespace threadmill::auth
