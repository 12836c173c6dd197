#include "filter/reply_safety.h"

#include "common/ascii.h"
#include "mail/address.h"
#include "mail/auto_response.h"
#include "mail/header.h"
#include "reply/rules.h"

namespace threadmill::filter {
namespace {

std::string TrimDots(std::string domain) {
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  return domain;
}

}  // namespace

std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references, bool sender_authenticated,
                          const std::vector<std::string>* system_senders) {
  if (references > max_references) return "references";
  std::string from = mail::ParseMailbox(headers.First("From")).address;
  mail::AutoResponse robot =
      mail::ClassifyAutoResponse({&headers.fields(), envelope.mail_from, true, from,
                                  headers.has_list_field(), system_senders});
  if (robot.automatic()) return robot.reason;
  if (!sender_authenticated) return "unauthenticated-sender";
  return "";
}

bool SenderAuthenticated(std::string_view mail_from, const auth::Verdicts* verdicts,
                         const auth::PublicSuffixList* psl) {
  if (!verdicts) return false;
  std::string domain = TrimDots(reply::DomainOf(mail_from));
  if (domain.empty()) return false;
  // SPF pass for MAIL FROM itself (not the HELO identity a null sender is checked with).
  if (verdicts->spf_checked && verdicts->spf.result == auth::SpfResult::kPass &&
      TrimDots(ascii::ToLower(verdicts->spf.domain)) == domain) {
    return true;
  }
  if (!verdicts->DmarcPassed()) return false;
  std::string from_domain = TrimDots(ascii::ToLower(verdicts->dmarc.from_domain));
  if (from_domain.empty()) return false;
  if (from_domain == domain) return true;
  if (!psl) return false;
  std::string org = psl->OrganizationalDomain(domain);
  return !org.empty() && org == psl->OrganizationalDomain(from_domain);
}

}  // namespace threadmill::filter
