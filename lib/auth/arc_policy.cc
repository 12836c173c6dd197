// arc_policy.cc - the trusted-sealer override (see arc_policy.h).
#include "auth/arc_policy.h"

#include "auth/auth_results.h"
#include "auth/psl.h"
#include "common/ascii.h"

namespace threadmill::auth {

void ApplyArcOverride(const std::vector<std::string>& trusted_sealers, Verdicts* v) {
  v->arc_override.clear();
  if (!v->dmarc_checked || v->dmarc.result != DmarcResult::kFail) return;
  if (!v->arc_checked || v->arc.result != ArcResult::kPass) return;
  for (auto hop = v->arc.hops.rbegin(); hop != v->arc.hops.rend(); ++hop) {
    bool trusted = false;
    for (const auto& t : trusted_sealers)
      if (ascii::ToLower(t) == hop->seal_domain) trusted = true;
    if (!trusted) continue;
    auto parsed = ParseAuthResults(hop->aar_payload);
    if (!parsed) continue;
    for (const auto& m : parsed->methods) {
      if (m.method != "dmarc" || ascii::ToLower(m.result) != "pass") continue;
      std::string from = ascii::ToLower(m.Property("header.from"));
      if (!from.empty() && from != ascii::ToLower(v->dmarc.from_domain)) continue;
      v->arc_override = hop->seal_domain;
      return;
    }
  }
}

}  // namespace threadmill::auth
