#include "filter/reply_safety.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "mail/header.h"

namespace threadmill::filter {
namespace {

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The header's value, without comments, lower-cased and trimmed.
std::string Token(const MessageHeaders& headers, std::string_view name) {
  return Lower(std::string(mail::TrimWhitespace(mail::StripComments(headers.First(name)))));
}

}  // namespace

bool IsAutoSubmitted(const MessageHeaders& headers) {
  if (!headers.fields().Find("Auto-Submitted")) return false;
  std::string value = Token(headers, "Auto-Submitted");
  // RFC 3834: anything but "no" (including empty or unknown values) is automatic.
  return value.substr(0, value.find(';')) != "no";
}

bool IsListMail(const MessageHeaders& headers) {
  for (const char* name : {"List-Id", "List-Unsubscribe", "List-Post"}) {
    if (headers.fields().Find(name)) return true;
  }
  return Token(headers, "Precedence") == "list";
}

bool IsBulkMail(const MessageHeaders& headers) {
  std::string precedence = Token(headers, "Precedence");
  return precedence == "bulk" || precedence == "junk";
}

bool IsSystemSender(const std::string& address) {
  std::string local = Lower(address.substr(0, address.rfind('@')));
  static constexpr std::array<std::string_view, 9> kExact = {
      "mailer-daemon", "postmaster", "listserv",  "majordomo", "noreply",
      "no-reply",      "do-not-reply", "donotreply", "bounce"};
  if (std::find(kExact.begin(), kExact.end(), local) != kExact.end()) return true;
  auto starts = [&](std::string_view p) { return local.rfind(p, 0) == 0; };
  auto ends = [&](std::string_view s) {
    return local.size() >= s.size() && local.compare(local.size() - s.size(), s.size(), s) == 0;
  };
  return starts("owner-") || ends("-request") || ends("-owner") || starts("bounce-") ||
         starts("bounces+") || starts("noreply+") || starts("no-reply+");
}

std::string NoReplyReason(const Envelope& envelope, const MessageHeaders& headers,
                          size_t references, size_t max_references) {
  if (references > max_references) return "references";
  if (IsAutoSubmitted(headers)) return "auto-submitted";
  if (IsListMail(headers)) return "list";
  if (IsBulkMail(headers)) return "bulk";
  if (envelope.mail_from.empty()) return "null-sender";
  if (IsSystemSender(envelope.mail_from)) return "system-sender";
  return "";
}

}  // namespace threadmill::filter
