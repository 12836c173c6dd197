#include "reply/rules.h"

#include <algorithm>
#include <cctype>

#include "mail/address.h"
#include "mail/msgid.h"
#include "mail/rfc2047.h"

namespace threadmill::reply {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The first token of a header value, lowercased, without comments and parameters.
std::string Keyword(std::string_view value) {
  std::string text = Lower(mail::TrimWhitespace(mail::StripComments(mail::Unfold(value))));
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
    facts->subject =
        std::string(mail::TrimWhitespace(mail::DecodeEncodedWords(mail::Unfold(f->value))));
  }
  if (const auto* f = headers.Find("From"))
    facts->from_address = mail::ParseMailbox(f->value).address;
  if (const auto* f = headers.Find("Auto-Submitted")) {
    facts->auto_submitted = std::string(mail::TrimWhitespace(mail::Unfold(f->value)));
  }
  if (const auto* f = headers.Find("Precedence")) {
    facts->precedence = std::string(mail::TrimWhitespace(mail::Unfold(f->value)));
  }
  facts->list_headers = false;
  for (const auto& field : headers) {
    if (field.name.size() > 5 && mail::EqualsIgnoreCase(field.name.substr(0, 5), "List-")) {
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
  return Lower(address.substr(at + 1));
}

bool IsSystemSender(std::string_view address) {
  size_t at = address.rfind('@');
  std::string local = Lower(address.substr(0, at == std::string_view::npos ? address.size() : at));
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
  if (config.require_dmarc && Lower(facts.dmarc) != "pass" &&
      !(config.accept_arc_override && facts.dmarc_arc_override)) {
    return "dmarc";
  }
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

}  // namespace threadmill::reply
