// enforce.cc - see enforce.h.
#include "auth/enforce.h"

namespace threadmill::auth {

std::string EnforceDecision::Reply() const {
  if (smtp_code.empty()) return text;
  return smtp_code + " " + enhanced + " " + text;
}

EnforceDecision DecideDmarcEnforcement(const Verdicts& v, bool enforce) {
  EnforceDecision d;
  if (!enforce || !v.dmarc_checked) return d;
  // permerror carries a disposition only for a message whose author domains DMARC could
  // not settle on (several From domains, fields or addresses; dmarc.h): it is enforced as
  // the failure it hides. A permerror of one domain (a broken record) has none.
  bool perm = v.dmarc.result == DmarcResult::kPermError;
  if (v.dmarc.result != DmarcResult::kFail && !perm) return d;
  // A trusted ARC sealer vouched for the message before it was changed (arc_policy.h).
  if (v.dmarc.result == DmarcResult::kFail && !v.arc_override.empty()) return d;
  const std::string& domain = v.dmarc.from_domain;
  std::string why = perm ? " (several authors)" : "";
  switch (v.dmarc.disposition) {
    case DmarcPolicy::kReject:
      d.action = DmarcPolicy::kReject;
      d.smtp_code = "550";
      d.enhanced = "5.7.1";
      d.text = "rejected by DMARC policy for " + domain + why;
      break;
    case DmarcPolicy::kQuarantine:
      d.action = DmarcPolicy::kQuarantine;
      d.text = "quarantined by DMARC policy for " + domain + why;
      break;
    case DmarcPolicy::kNone:
      break;
  }
  return d;
}

}  // namespace threadmill::auth
