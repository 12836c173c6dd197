// message_headers.h - collects a message's header fields as the MTA streams them.
//
// DESCRIPTION
//   Keeps fields up to three caps (max_header_bytes in all, max_fields fields, each value cut
//   to max_field_bytes), and always keeps the first copy of each field threadmill decides on
//   (Message-ID, In-Reply-To, References, Thread-Index, From, Subject, Auto-Submitted,
//   Precedence, List-Id, List-Unsubscribe, X-Auto-Response-Suppress) even past the caps.
//   Beyond the caps fields are counted, not stored, and the message gets a header-too-long
//   defect: huge or endless headers cost bounded memory and never fail the message.
//
//   Every Authentication-Results field is also checked, whatever the caps, for a claim of our
//   authserv-id (ForgedAuthResults: 1-based indexes among the A-R fields, for deletion), so
//   forged fields are found on inbound and outbound mail alike, with or without
//   authentication.
//
// LIMITS
//   All work is linear in the header size: Add() is O(field) (a fixed table of decision
//   names, no search of the stored fields); First() of a decision field is O(1). First() of
//   another name scans the stored fields (bounded by max_fields).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/defects.h"
#include "mail/header.h"
#include "thread/resolver.h"

namespace threadmill::filter {

struct HeaderLimits {
  size_t max_header_bytes = 1 << 20;  // stored fields in all ("Name: value" + CRLF)
  size_t max_fields = 10000;          // stored fields at most
  size_t max_field_bytes = 64 << 10;  // one stored value at most (longer ones are cut)
};

class MessageHeaders {
 public:
  // max_bytes in all and per field, default field count, no authserv-id.
  explicit MessageHeaders(size_t max_bytes)
      : MessageHeaders(HeaderLimits{max_bytes, HeaderLimits{}.max_fields, max_bytes}, "") {}
  // `our_authserv_id`: A-R fields claiming it are reported by ForgedAuthResults() ("" = none).
  MessageHeaders(const HeaderLimits& limits, std::string our_authserv_id);

  // Adds one field as received (value may be folded; NUL bytes are kept as data).
  void Add(std::string_view name, std::string_view value);

  const mail::HeaderList& fields() const { return fields_; }
  size_t count() const { return count_; }
  size_t bytes() const { return bytes_; }
  const mail::Defects& defects() const { return defects_; }
  // A List-* field was seen (kept or not).
  bool has_list_field() const { return has_list_field_; }
  // 1-based indexes (among all A-R fields) of the A-R fields claiming our authserv-id.
  const std::vector<int>& ForgedAuthResults() const { return forged_; }

  // Parses the threading fields into normalized ids; parse defects are added to defects().
  thread::ThreadHeaders ThreadingHeaders();
  // Number of ids in References as listed (duplicates count, a cut last id does not), for
  // the max_references rule and refs= (mail::MsgIdList::listed).
  size_t ReferencesCount();
  // Unfolded value of the first field with this name, or "".
  std::string First(std::string_view name) const;
  // Whether a field with this name was seen (kept or not); exact for decision fields only.
  bool Has(std::string_view name) const;

 private:
  static constexpr size_t kDecisionFields = 11;
  static constexpr size_t kNone = static_cast<size_t>(-1);
  void ParseThreading();

  HeaderLimits limits_;
  std::string authserv_id_;
  size_t bytes_ = 0;
  size_t count_ = 0;
  size_t stored_bytes_ = 0;
  mail::HeaderList fields_;
  std::array<size_t, kDecisionFields> first_;  // index in fields_ of each decision field
  mail::Defects defects_;
  bool has_list_field_ = false;
  int auth_results_seen_ = 0;
  std::vector<int> forged_;
  bool parsed_ = false;
  thread::ThreadHeaders threading_;
  size_t references_listed_ = 0;
};

}  // namespace threadmill::filter
