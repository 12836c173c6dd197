// authentication.h - how the per-message decision uses SPF/DKIM/DMARC verdicts.
//
// DESCRIPTION
//   Maps [auth] to auth::AuthOptions, and turns a message's Verdicts into decision parts:
//   the Authentication-Results header to add (RFC 8601), forged A-R headers to delete, the
//   dmarc=/spf=/dkim= log fields, DMARC enforcement (only with enforce_dmarc) and the DNS
//   failure action (a temperror never passes or fails a message; on_dns_error decides whether
//   the MTA delivers it or asks the client to retry).
#pragma once

#include <memory>
#include <vector>

#include "auth/authenticator.h"
#include "config/config.h"
#include "filter/decision.h"

namespace threadmill::filter {

auth::AuthOptions MakeAuthOptions(const config::Config& config);

// Creates the process-wide authenticator, or nullptr when [auth] enabled = false.
// Throws std::runtime_error when the resolver or the libraries cannot be set up.
std::shared_ptr<auth::Authenticator> MakeAuthenticator(const config::Config& config);

// Adds verdict-dependent parts to the decision.
void ApplyVerdicts(const config::Config& config, const auth::Verdicts& verdicts,
                   const std::vector<int>& forged_auth_results, Decision* decision);

}  // namespace threadmill::filter
