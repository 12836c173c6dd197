#include "filter/reply_safety.h"

#include "mail/header.h"
#include "reply/rules.h"

namespace threadmill::filter {
std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references) {
  if (references > max_references) return "references";
  if (headers.Has("Auto-Submitted") && reply::IsAutoSubmitted(headers.First("Auto-Submitted"))) {
    return "auto-submitted";
  }
  if (reply::IsBulkPrecedence(headers.First("Precedence"))) return "precedence";
  if (headers.has_list_field()) return "list";
  if (envelope.mail_from.empty()) return "null-sender";
  if (reply::IsSystemSender(envelope.mail_from)) return "system-sender";
  return "";
}

}  // namespace threadmill::filter
