// verdicts.h - the authentication verdicts of one message, as the milter logs and uses them.
//
// DESCRIPTION
//   Verdicts gathers the SPF, DKIM and DMARC outcomes (computed here, or taken from a
//   trusted upstream Authentication-Results header). Summary() gives the decision-log
//   fragment "dmarc=pass spf=pass dkim=pass dmarc_policy=reject"; DmarcPassed() is the
//   input of the reply gate.
//
// STANDARDS
//   Result names of RFC 8601 section 2.7.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "auth/arc_verify.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"

namespace threadmill::auth {

struct Verdicts {
  bool spf_checked = false;
  SpfOutcome spf;
  std::vector<DkimSignatureResult> dkim;
  bool dmarc_checked = false;
  DmarcOutcome dmarc;
  bool arc_checked = false;  // the message was checked for ARC (RFC 8617)
  ArcOutcome arc;
  // Non-empty: the trusted sealer whose recorded dmarc=pass overrides our dmarc=fail
  // (RFC 8617 section 7.2; arc_policy.h). DMARC stays "fail"; it is not enforced.
  std::string arc_override;
  bool from_upstream = false;        // taken from a trusted A-R header
  std::string upstream_authserv_id;  // whose

  // The best DKIM result: pass if any signature passed, else temperror, fail, permerror,
  // policy, neutral in that order; none without signatures.
  DkimResult DkimSummary() const;
  // ("dmarc","pass"), ("spf","pass"), ("dkim","pass"), ("dmarc_policy","reject") ... in
  // that order; dmarc_policy only when a DMARC record was found; ("arc", result) and
  // ("arc_sealer", newest sealer) when the message has ARC fields, then
  // ("dmarc_override", "arc") and ("policy.arc-override", sealer) for an ARC override;
  // ("dmarc_reason", why) for a DMARC permerror (several authors, the max_author_domains cap hit, a
  // broken record).
  std::vector<std::pair<std::string, std::string>> SummaryFields() const;
  std::string Summary() const;  // the fields joined as "k=v k=v"
  bool DmarcPassed() const { return dmarc_checked && dmarc.result == DmarcResult::kPass; }
};

}  // namespace threadmill::auth
