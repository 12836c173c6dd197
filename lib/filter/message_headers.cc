#include "filter/message_headers.h"

#include <array>

#include "mail/msgid.h"
#include "mail/thread_index.h"

namespace threadmill::filter {
namespace {

// Fields kept even beyond the byte cap: everything threadmill's decisions read.
bool IsDecisionField(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kFields = {"Message-ID",
                                                               "In-Reply-To",
                                                               "References",
                                                               "Thread-Index",
                                                               "From",
                                                               "Subject",
                                                               "Auto-Submitted",
                                                               "Precedence",
                                                               "List-Id",
                                                               "List-Unsubscribe",
                                                               "X-Auto-Response-Suppress",
                                                               "Authentication-Results"};
  for (auto field : kFields) {
    if (mail::EqualsIgnoreCase(name, field)) return true;
  }
  return false;
}

}  // namespace

void MessageHeaders::Add(std::string_view name, std::string_view value) {
  ++count_;
  size_t size = name.size() + value.size() + 4;  // ": " and CRLF
  bytes_ += size;
  if (bytes_ <= max_bytes_) {
    fields_.Append(std::string(name), std::string(value));
    return;
  }
  defects_.Add(mail::Defect::kHeaderTooLong);
  if (IsDecisionField(name) && fields_.Count(name) < 4) {
    fields_.Append(std::string(name), std::string(value.substr(0, max_bytes_)));
  }
}

std::string MessageHeaders::First(std::string_view name) const {
  const mail::HeaderField* field = fields_.Find(name);
  return field ? mail::Unfold(field->value) : std::string();
}

void MessageHeaders::ParseThreading() {
  if (parsed_) return;
  parsed_ = true;
  // A second copy of these fields is a defect; the first one counts (RFC 5322 allows one).
  auto msgid = mail::ParseMsgId(First("Message-ID"));
  defects_.Merge(msgid.defects);
  threading_.message_id = std::move(msgid.id);
  auto in_reply_to = mail::ParseMsgIdList(First("In-Reply-To"));
  defects_.Merge(in_reply_to.defects);
  threading_.in_reply_to = std::move(in_reply_to.ids);
  auto references = mail::ParseMsgIdList(First("References"));
  defects_.Merge(references.defects);
  threading_.references = std::move(references.ids);
  if (const mail::HeaderField* index = fields_.Find("Thread-Index")) {
    auto root = mail::ParseThreadIndex(mail::Unfold(index->value));
    defects_.Merge(root.defects);
    threading_.thread_index_root = std::move(root.root);
  }
}

thread::ThreadHeaders MessageHeaders::ThreadingHeaders() {
  ParseThreading();
  return threading_;
}

size_t MessageHeaders::ReferencesCount() {
  ParseThreading();
  return threading_.references.size();
}

}  // namespace threadmill::filter
