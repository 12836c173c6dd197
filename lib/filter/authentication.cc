#include "filter/authentication.h"

#include <stdexcept>

#include "auth/auth_results.h"
#include "auth/enforce.h"

namespace threadmill::filter {
namespace {

bool AnyTempError(const auth::Verdicts& v) {
  return (v.spf_checked && v.spf.result == auth::SpfResult::kTempError) ||
         v.DkimSummary() == auth::DkimResult::kTempError ||
         (v.dmarc_checked && v.dmarc.result == auth::DmarcResult::kTempError);
}

}  // namespace

auth::AuthOptions MakeAuthOptions(const config::Config& config) {
  const config::AuthConfig& a = config.auth;
  auth::AuthOptions options;
  options.dns.forwarders = a.dns_forwarders;
  options.dns.timeout = std::chrono::milliseconds(a.dns_timeout_ms);
  options.message_dns_budget = std::chrono::milliseconds(a.message_dns_budget_ms);
  options.dns.trust_anchor_file = a.dnssec_trust_anchor;
  options.spf = a.spf;
  options.dkim = a.dkim;
  options.dmarc = a.dmarc;
  options.max_signatures = a.max_signatures;
  options.max_key_lookups = a.max_key_lookups;
  options.max_author_domains = a.max_author_domains;
  options.psl_path = a.psl_path;
  options.authserv_id = a.authserv_id;
  options.trusted_authserv_ids = a.trusted_authserv_ids;
  return options;
}

std::shared_ptr<auth::Authenticator> MakeAuthenticator(const config::Config& config) {
  if (!config.auth.enabled) return nullptr;
  auto created = auth::Authenticator::Create(MakeAuthOptions(config));
  if (!created.ok()) {
    throw std::runtime_error("cannot set up authentication: " + created.error().message);
  }
  return std::shared_ptr<auth::Authenticator>(std::move(*created));
}

void ApplyVerdicts(const config::Config& config, const auth::Verdicts& verdicts,
                   const std::vector<int>& forged_auth_results, Decision* d) {
  const config::AuthConfig& a = config.auth;
  d->auth_checked = true;
  d->dmarc_passed = verdicts.DmarcPassed();
  for (const auto& field : verdicts.SummaryFields()) d->auth_log.push_back(field);
  if (a.remove_forged_headers) d->delete_auth_results = forged_auth_results;
  if (a.add_header) {
    d->insert_headers.emplace_back("Authentication-Results",
                                   auth::BuildAuthResults(verdicts, a.authserv_id));
  }
  if (AnyTempError(verdicts) && a.on_dns_error == config::FailureAction::kTempfail) {
    d->verdict = Verdict::kTempfail;
    d->smtp_reply = {"451", "4.4.3", "authentication temporarily unavailable (DNS), try again"};
    return;
  }
  auth::EnforceDecision enforce = auth::DecideDmarcEnforcement(verdicts, a.enforce_dmarc);
  if (enforce.action == auth::DmarcPolicy::kReject) {
    d->verdict = Verdict::kReject;
    d->smtp_reply = {enforce.smtp_code, enforce.enhanced, enforce.text};
  } else if (enforce.action == auth::DmarcPolicy::kQuarantine) {
    d->quarantine = enforce.text.empty() ? "DMARC policy quarantine" : enforce.text;
  }
}

}  // namespace threadmill::filter
