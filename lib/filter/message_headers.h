// message_headers.h - collects a message's header fields as the MTA streams them.
//
// DESCRIPTION
//   Keeps every field (for the spool and handlers) up to a byte cap, and always keeps the
//   fields threadmill decides on (Message-ID, In-Reply-To, References, Thread-Index, From,
//   Subject, Auto-Submitted, Precedence, List-*) even past the cap, each cut to the cap.
//   Beyond the cap fields are counted, not stored, and the message gets a header-too-long
//   defect: huge or endless headers cost bounded memory and never fail the message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mail/defects.h"
#include "mail/header.h"
#include "thread/resolver.h"

namespace threadmill::filter {

class MessageHeaders {
 public:
  explicit MessageHeaders(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Adds one field as received (value may be folded; NUL bytes are kept as data).
  void Add(std::string_view name, std::string_view value);

  const mail::HeaderList& fields() const { return fields_; }
  size_t count() const { return count_; }
  size_t bytes() const { return bytes_; }
  const mail::Defects& defects() const { return defects_; }

  // Parses the threading fields into normalized ids; parse defects are added to defects().
  thread::ThreadHeaders ThreadingHeaders();
  // Number of ids in References (after de-duplication), for the max_references rule.
  size_t ReferencesCount();
  // Unfolded value of the first field with this name, or "".
  std::string First(std::string_view name) const;

 private:
  void ParseThreading();

  size_t max_bytes_;
  size_t bytes_ = 0;
  size_t count_ = 0;
  mail::HeaderList fields_;
  mail::Defects defects_;
  bool parsed_ = false;
  thread::ThreadHeaders threading_;
};

}  // namespace threadmill::filter
