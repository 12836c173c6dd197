// verdicts.cc - see verdicts.h.
#include "auth/verdicts.h"

namespace threadmill::auth {

DkimResult Verdicts::DkimSummary() const {
  static constexpr DkimResult kOrder[] = {DkimResult::kPass,   DkimResult::kTempError,
                                          DkimResult::kFail,   DkimResult::kPermError,
                                          DkimResult::kPolicy, DkimResult::kNeutral};
  for (DkimResult want : kOrder)
    for (const auto& s : dkim)
      if (s.result == want) return want;
  return DkimResult::kNone;
}

std::vector<std::pair<std::string, std::string>> Verdicts::SummaryFields() const {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("dmarc", dmarc_checked ? ToString(dmarc.result) : "none");
  f.emplace_back("spf", spf_checked ? ToString(spf.result) : "none");
  f.emplace_back("dkim", ToString(DkimSummary()));
  if (dmarc_checked && !dmarc.policy_domain.empty())
    f.emplace_back("dmarc_policy", ToString(dmarc.policy));
  // Why DMARC could not settle (several authors, the max_author_domains cap, a bad record).
  if (dmarc_checked && dmarc.result == DmarcResult::kPermError && !dmarc.reason.empty())
    f.emplace_back("dmarc_reason", dmarc.reason);
  if (arc_checked && arc.result != ArcResult::kNone) {
    f.emplace_back("arc", ToString(arc.result));
    if (!arc.sealer_domain.empty()) f.emplace_back("arc_sealer", arc.sealer_domain);
    if (arc.result == ArcResult::kFail && !arc.reason.empty())
      f.emplace_back("arc_reason", arc.reason);
  }
  if (!arc_override.empty()) {
    f.emplace_back("dmarc_override", "arc");
    f.emplace_back("policy.arc-override", arc_override);
  }
  if (from_upstream) f.emplace_back("auth_from", upstream_authserv_id);
  return f;
}

std::string Verdicts::Summary() const {
  std::string out;
  for (const auto& [k, v] : SummaryFields()) {
    if (!out.empty()) out += ' ';
    out += k + "=" + v;
  }
  return out;
}

}  // namespace threadmill::auth
