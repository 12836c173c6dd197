#include "filter/reply_safety.h"

#include "mail/header.h"
#include "reply/rules.h"

namespace threadmill::filter {
namespace {

bool HasListField(const MessageHeaders& headers) {
  for (const auto& field : headers.fields()) {
    if (field.name.size() > 5 && mail::EqualsIgnoreCase(field.name.substr(0, 5), "List-")) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references) {
  if (references > max_references) return "references";
  if (headers.fields().Find("Auto-Submitted") &&
      reply::IsAutoSubmitted(headers.First("Auto-Submitted"))) {
    return "auto-submitted";
  }
  if (reply::IsBulkPrecedence(headers.First("Precedence"))) return "precedence";
  if (HasListField(headers)) return "list";
  if (envelope.mail_from.empty()) return "null-sender";
  if (reply::IsSystemSender(envelope.mail_from)) return "system-sender";
  return "";
}

}  // namespace threadmill::filter
