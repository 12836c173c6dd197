#include "filter/message_headers.h"

#include "auth/auth_results.h"
#include "common/ascii.h"
#include "mail/msgid.h"
#include "mail/thread_index.h"

namespace threadmill::filter {
namespace {

// Fields kept even beyond the caps: everything threadmill's decisions read.
constexpr std::array<std::string_view, 11> kDecisionNames = {"Message-ID",
                                                             "In-Reply-To",
                                                             "References",
                                                             "Thread-Index",
                                                             "From",
                                                             "Subject",
                                                             "Auto-Submitted",
                                                             "Precedence",
                                                             "List-Id",
                                                             "List-Unsubscribe",
                                                             "X-Auto-Response-Suppress"};

size_t DecisionSlot(std::string_view name) {
  for (size_t i = 0; i < kDecisionNames.size(); ++i) {
    if (ascii::EqualsIgnoreCase(name, kDecisionNames[i])) return i;
  }
  return static_cast<size_t>(-1);
}

bool IsListField(std::string_view name) {
  return name.size() > 5 && ascii::EqualsIgnoreCase(name.substr(0, 5), "List-");
}

}  // namespace

MessageHeaders::MessageHeaders(const HeaderLimits& limits, std::string our_authserv_id)
    : limits_(limits), authserv_id_(std::move(our_authserv_id)) {
  static_assert(kDecisionNames.size() == kDecisionFields);
  first_.fill(kNone);
}

void MessageHeaders::Add(std::string_view name, std::string_view value) {
  ++count_;
  bytes_ += name.size() + value.size() + 4;  // ": " and CRLF
  if (IsListField(name)) has_list_field_ = true;
  if (ascii::EqualsIgnoreCase(name, "Authentication-Results")) {
    ++auth_results_seen_;
    if (!authserv_id_.empty() && auth::ClaimsAuthservId(value, authserv_id_)) {
      forged_.push_back(auth_results_seen_);
    }
  }
  if (value.size() > limits_.max_field_bytes) {
    defects_.Add(mail::Defect::kHeaderTooLong);
    value = value.substr(0, limits_.max_field_bytes);
  }
  size_t slot = DecisionSlot(name);
  size_t size = name.size() + value.size() + 4;
  bool fits =
      fields_.size() < limits_.max_fields && stored_bytes_ + size <= limits_.max_header_bytes;
  if (!fits) defects_.Add(mail::Defect::kHeaderTooLong);
  // Past the caps only the first copy of a decision field is kept: at most 11 more values.
  if (fits || (slot != kNone && first_[slot] == kNone)) {
    if (slot != kNone && first_[slot] == kNone) first_[slot] = fields_.size();
    stored_bytes_ += size;
    fields_.Append(std::string(name), std::string(value));
  }
}

std::string MessageHeaders::First(std::string_view name) const {
  size_t slot = DecisionSlot(name);
  if (slot != kNone) {
    return first_[slot] == kNone ? std::string() : mail::Unfold(fields_[first_[slot]].value);
  }
  const mail::HeaderField* field = fields_.Find(name);
  return field ? mail::Unfold(field->value) : std::string();
}

bool MessageHeaders::Has(std::string_view name) const {
  size_t slot = DecisionSlot(name);
  if (slot != kNone) return first_[slot] != kNone;
  return fields_.Find(name) != nullptr;
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
  references_listed_ = references.listed;
  if (Has("Thread-Index")) {
    auto root = mail::ParseThreadIndex(First("Thread-Index"));
    defects_.Merge(root.defects);
    threading_.thread_index_root = std::move(root.root);
    threading_.thread_index = std::move(root.hex);
  }
}

thread::ThreadHeaders MessageHeaders::ThreadingHeaders() {
  ParseThreading();
  return threading_;
}

size_t MessageHeaders::ReferencesCount() {
  ParseThreading();
  return references_listed_;
}

}  // namespace threadmill::filter
