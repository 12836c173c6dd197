#include "reply/rules.h"

#include <algorithm>

#include "common/ascii.h"
#include "mail/address.h"
#include "mail/auto_response.h"
#include "mail/msgid.h"
#include "mail/rfc2047.h"

namespace threadmill::reply {

void FactsFromHeaders(const mail::HeaderList& headers, InboundFacts* facts) {
  if (const auto* f = headers.Find("Message-ID")) facts->message_id = mail::ParseMsgId(f->value).id;
  facts->references.clear();
  size_t listed = 0;  // as listed: duplicates count, a cut last id does not
  if (const auto* f = headers.Find("References")) {
    mail::MsgIdList refs = mail::ParseMsgIdList(f->value);
    facts->references = std::move(refs.ids);
    listed = refs.listed;
  }
  facts->references_count = std::max(facts->references_count, listed);
  if (const auto* f = headers.Find("Subject")) {
    facts->subject = std::string(ascii::Trim(mail::DecodeEncodedWords(mail::Unfold(f->value))));
  }
  if (const auto* f = headers.Find("From"))
    facts->from_address = mail::ParseMailbox(f->value).address;
  if (const auto* f = headers.Find("Auto-Submitted")) {
    facts->auto_submitted = std::string(ascii::Trim(mail::Unfold(f->value)));
  }
  if (const auto* f = headers.Find("Precedence")) {
    facts->precedence = std::string(ascii::Trim(mail::Unfold(f->value)));
  }
  facts->list_headers = false;
  for (const auto& field : headers) {
    if (field.name.size() > 5 && ascii::EqualsIgnoreCase(field.name.substr(0, 5), "List-")) {
      facts->list_headers = true;
      break;
    }
  }
  facts->auto_response =
      mail::ClassifyAutoResponse({&headers, "", false, "", false, nullptr}).reason;
}

bool IsAutoSubmitted(std::string_view value) { return mail::IsAutoSubmittedValue(value); }

bool IsBulkPrecedence(std::string_view value) { return mail::IsAutoPrecedence(value); }

std::string DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  return ascii::ToLower(address.substr(at + 1));
}

bool IsSystemSender(std::string_view address, const std::vector<std::string>* patterns) {
  return mail::IsSystemSenderAddress(address, patterns ? *patterns : mail::DefaultSystemSenders());
}

std::string CheckReplyRules(const InboundFacts& facts, const ReplyConfig& config) {
  if (facts.message_id.empty()) return "no-message-id";
  if (facts.recipient.empty() || DomainOf(facts.recipient).empty()) return "no-recipient";
  if (config.require_dmarc && ascii::ToLower(facts.dmarc) != "pass" &&
      !(config.accept_arc_override && facts.dmarc_arc_override)) {
    return "dmarc";
  }
  if (facts.envelope_sender.empty()) return "null-sender";
  if (IsSystemSender(facts.envelope_sender, &config.system_senders) ||
      (!facts.from_address.empty() && IsSystemSender(facts.from_address, &config.system_senders))) {
    return "system-sender";
  }
  if (config.require_authenticated_sender && !facts.sender_authenticated) {
    return "unauthenticated-sender";
  }
  if (IsAutoSubmitted(facts.auto_submitted)) return "auto-submitted";
  if (IsBulkPrecedence(facts.precedence)) return "precedence";
  if (facts.list_headers) return "list";
  if (!facts.auto_response.empty()) return facts.auto_response;
  if (facts.references_count > config.max_references) return "references";
  return "";
}

std::string PredictFixed(const InboundFacts& facts, std::string_view milter_reason,
                         const FixedRulesOnly& config) {
  std::string reason(milter_reason);
  if (reason == "unauthenticated-sender" && !config.require_authenticated_sender) reason.clear();
  if (!reason.empty()) return reason;
  ReplyConfig rules;
  rules.require_dmarc = config.require_dmarc;
  rules.require_authenticated_sender = config.require_authenticated_sender;
  return CheckReplyRules(facts, rules);
}

}  // namespace threadmill::reply
