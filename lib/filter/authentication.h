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
// The same from [auth] alone (workers re-authenticating jobs, filter/reauth.h).
auth::AuthOptions MakeAuthOptions(const config::AuthConfig& auth);

// Creates the process-wide authenticator, or nullptr when [auth] enabled = false.
// Throws std::runtime_error when the resolver or the libraries cannot be set up.
std::shared_ptr<auth::Authenticator> MakeAuthenticator(const config::Config& config);

// Adds verdict-dependent parts to the decision: our A-R, the log fields, enforcement.
void ApplyVerdicts(const config::Config& config, const auth::Verdicts& verdicts,
                   Decision* decision);

// Forged A-R fields (claiming our authserv-id; 1-based indexes among the A-R fields) are
// deleted, inbound and outbound, whether or not the message was authenticated. More than
// [auth] max_forged_deletions of them are not deleted one by one (each deletion is one
// smfi_chgheader; thousands break the MTA): the message is refused instead (reject, or
// tempfail with on_too_many_forged = "tempfail"), so none of them ever reaches a mailbox.
// Nothing happens when authentication or remove_forged_headers is off.
void RemoveForgedAuthResults(const config::Config& config, const std::vector<int>& forged,
                             Decision* decision);

// Makes the verdict stricter (continue < tempfail < reject), never milder; the reply goes
// with the verdict that wins.
void Escalate(Decision* decision, Verdict verdict, SmtpReply reply);

}  // namespace threadmill::filter
