#include "filter/authentication.h"

#include <algorithm>
#include <stdexcept>

#include "auth/auth_results.h"
#include "auth/enforce.h"
#include "log/logger.h"

namespace threadmill::filter {
namespace {

bool AnyTempError(const auth::Verdicts& v) {
  return (v.spf_checked && v.spf.result == auth::SpfResult::kTempError) ||
         v.DkimSummary() == auth::DkimResult::kTempError ||
         (v.dmarc_checked && v.dmarc.result == auth::DmarcResult::kTempError);
}

}  // namespace

auth::AuthOptions MakeAuthOptions(const config::Config& config) {
  return MakeAuthOptions(config.auth);
}

auth::AuthOptions MakeAuthOptions(const config::AuthConfig& a) {
  auth::AuthOptions options;
  options.dns.forwarders = a.dns_forwarders;
  options.dns.timeout = std::chrono::milliseconds(a.dns_timeout_ms);
  options.message_dns_budget = std::chrono::milliseconds(a.message_dns_budget_ms);
  options.dns.trust_anchor_file = a.dnssec_trust_anchor;
  // One line when the DNS upstream stops answering and one when it is back (resolver.h).
  options.dns.on_upstream_change = [](bool answering, const std::string& text) {
    if (answering) {
      log::Get().info("dns {}", text);
    } else {
      log::Get().warn("dns {}: SPF/DKIM/DMARC are temperror while it is silent", text);
    }
  };
  options.spf = a.spf;
  options.dkim = a.dkim;
  options.dmarc = a.dmarc;
  options.max_signatures = a.max_signatures;
  options.max_key_lookups = a.max_key_lookups;
  options.max_author_domains = a.max_author_domains;
  options.psl_path = a.psl_path;
  options.authserv_id = a.authserv_id;
  options.trusted_authserv_ids = a.trusted_authserv_ids;
  options.arc = a.arc;
  options.arc_trusted_sealers = a.arc_trusted_sealers;
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

void ApplyVerdicts(const config::Config& config, const auth::Verdicts& verdicts, Decision* d) {
  const config::AuthConfig& a = config.auth;
  d->verdicts = verdicts;
  // Signatures kept from libopendkim as hostile (auth/dkim.h; at most max_signatures): the
  // decision line says which and why, beside their permerror.
  std::string withheld;
  for (const auto& s : verdicts.dkim) {
    if (!s.withheld) continue;
    withheld += (withheld.empty() ? "" : "; ") + s.domain.substr(0, 253) + ": " + s.reason;
  }
  if (!withheld.empty()) d->extra_log.emplace_back("dkim_withheld", withheld);
  if (a.add_header) {
    // Our A-R lists the verified signatures only (at most max_signatures): ignored extra
    // signatures must not be able to grow it past what the MTA accepts.
    size_t listed = std::max<size_t>(a.max_signatures, 1);
    d->insert_headers.emplace_back("Authentication-Results",
                                   auth::BuildAuthResults(verdicts, a.authserv_id, listed));
    if (verdicts.dkim.size() > listed) {
      d->extra_log.emplace_back("dkim_unlisted", std::to_string(verdicts.dkim.size() - listed));
    }
  }
  if (AnyTempError(verdicts) && a.on_dns_error == config::FailureAction::kTempfail) {
    Escalate(d, Verdict::kTempfail,
             {"451", "4.4.3", "authentication temporarily unavailable (DNS), try again"});
    return;
  }
  auth::EnforceDecision enforce = auth::DecideDmarcEnforcement(verdicts, a.enforce_dmarc);
  if (enforce.action == auth::DmarcPolicy::kReject) {
    Escalate(d, Verdict::kReject, {enforce.smtp_code, enforce.enhanced, enforce.text});
  } else if (enforce.action == auth::DmarcPolicy::kQuarantine) {
    d->quarantine = enforce.text.empty() ? "DMARC policy quarantine" : enforce.text;
  }
}

void RemoveForgedAuthResults(const config::Config& config, const std::vector<int>& forged,
                             Decision* d) {
  const config::AuthConfig& a = config.auth;
  if (!a.enabled || !a.remove_forged_headers || forged.empty()) return;
  d->extra_log.emplace_back("forged_ar", std::to_string(forged.size()));
  if (forged.size() <= a.max_forged_deletions) {
    d->delete_auth_results = forged;
    return;
  }
  d->delete_auth_results.clear();
  d->defects.Add(mail::Defect::kTooComplex);
  d->extra_log.emplace_back("forged_ar_cap", std::to_string(a.max_forged_deletions));
  if (a.too_many_forged_tempfail) {
    Escalate(d, Verdict::kTempfail,
             {"451", "4.7.0", "too many Authentication-Results header fields claiming our name"});
  } else {
    Escalate(d, Verdict::kReject,
             {"550", "5.7.1", "too many Authentication-Results header fields claiming our name"});
  }
}

void Escalate(Decision* d, Verdict verdict, SmtpReply reply) {
  auto rank = [](Verdict v) { return v == Verdict::kReject ? 2 : v == Verdict::kTempfail ? 1 : 0; };
  if (rank(verdict) <= rank(d->verdict)) return;
  d->verdict = verdict;
  d->smtp_reply = std::move(reply);
}

}  // namespace threadmill::filter
