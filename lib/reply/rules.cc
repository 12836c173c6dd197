#include "reply/rules.h"

#include <algorithm>
#include <cctype>

#include "common/ascii.h"
#include "mail/address.h"
#include "mail/msgid.h"
#include "mail/rfc2047.h"

namespace threadmill::reply {
namespace {

// The first token of a header value, lowercased, without comments and parameters.
std::string Keyword(std::string_view value) {
  std::string text = ascii::ToLower(ascii::Trim(mail::StripComments(mail::Unfold(value))));
  size_t end = text.find_first_of("; \t");
  if (end != std::string::npos) text.resize(end);
  return text;
}

}  // namespace

void FactsFromHeaders(const mail::HeaderList& headers, InboundFacts* facts) {
  if (const auto* f = headers.Find("Message-ID")) facts->message_id = mail::ParseMsgId(f->value).id;
  facts->references.clear();
  if (const auto* f = headers.Find("References")) {
    facts->references = mail::ParseMsgIdList(f->value).ids;
  }
  facts->references_count = std::max(facts->references_count, facts->references.size());
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
}

bool IsAutoSubmitted(std::string_view value) {
  std::string keyword = Keyword(value);
  return !keyword.empty() && keyword != "no";
}

bool IsBulkPrecedence(std::string_view value) {
  std::string keyword = Keyword(value);
  return keyword == "bulk" || keyword == "list" || keyword == "junk";
}

std::string DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  return ascii::ToLower(address.substr(at + 1));
}

bool IsSystemSender(std::string_view address) {
  size_t at = address.rfind('@');
  std::string local = ascii::ToLower(address.substr(0, at == std::string_view::npos ? address.size() : at));
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    local = local.substr(1, local.size() - 2);
  }
  // The part before a sub-address tag ("noreply+abc").
  std::string base = local.substr(0, local.find('+'));
  static const char* const kExact[] = {
      "mailer-daemon", "postmaster",   "noreply",  "no-reply",  "no_reply",    "do-not-reply",
      "donotreply",    "do_not_reply", "listserv", "majordomo", "mailerdaemon"};
  for (const char* name : kExact) {
    if (base == name) return true;
  }
  if (base.rfind("owner-", 0) == 0) return true;
  if (base.size() > 8 && base.compare(base.size() - 8, 8, "-request") == 0) return true;
  if (base.rfind("bounce", 0) == 0) return true;
  return false;
}

std::string CheckReplyRules(const InboundFacts& facts, const ReplyConfig& config) {
  if (facts.message_id.empty()) return "no-message-id";
  if (facts.recipient.empty() || DomainOf(facts.recipient).empty()) return "no-recipient";
  if (config.require_dmarc && ascii::ToLower(facts.dmarc) != "pass") return "dmarc";
  if (facts.envelope_sender.empty()) return "null-sender";
  if (IsSystemSender(facts.envelope_sender) ||
      (!facts.from_address.empty() && IsSystemSender(facts.from_address))) {
    return "system-sender";
  }
  if (config.require_authenticated_sender && !facts.sender_authenticated) {
    return "unauthenticated-sender";
  }
  if (IsAutoSubmitted(facts.auto_submitted)) return "auto-submitted";
  if (IsBulkPrecedence(facts.precedence)) return "precedence";
  if (facts.list_headers) return "list";
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
