// arc_policy.h - the trusted-sealer override of a DMARC failure (RFC 8617 section 7.2).
//
// DESCRIPTION
//   ApplyArcOverride() looks at a message whose DMARC result is "fail" and whose ARC chain
//   validated (arc=pass): when one of its ARC sets was sealed by a domain in
//   trusted_sealers and that sealer's ARC-Authentication-Results recorded dmarc=pass (for
//   the same author domain when it names header.from), Verdicts::arc_override is set to
//   that sealer. DMARC stays "fail" (what we saw); enforcement then does not reject or
//   quarantine it, and the reply gate may answer it only with [reply] accept_arc_override.
//
// STANDARDS
//   RFC 8617 sections 7.2 and 9.5 (a receiver may use a trusted sealer's recorded results
//   to override a local DMARC failure), RFC 8601 (reading the recorded results).
//
// LIMITS
//   Sealer domains are compared exactly (lower-cased), no subdomains. The newest trusted
//   hop that recorded dmarc=pass wins.
#pragma once

#include <string>
#include <vector>

#include "auth/verdicts.h"

namespace threadmill::auth {

void ApplyArcOverride(const std::vector<std::string>& trusted_sealers, Verdicts* verdicts);

}  // namespace threadmill::auth
