// header.h - RFC 5322 header fields: model, unfolding, comments, header block splitting.
//
// DESCRIPTION
//   HeaderField keeps a field as received (name and raw value, folding line breaks kept).
//   HeaderList is an ordered list with case-insensitive look-up. SplitMessage cuts a raw
//   message into its header block (parsed into a HeaderList) and the offset of the body.
//
// STANDARDS
//   RFC 5322 section 2.2 (header fields), 2.2.3 (folding), 3.2.2 (comments, CFWS),
//   4.5 (obsolete "Name : value" whitespace before the colon).
//
// LIMITS
//   Line ends may be CRLF, LF or a mix; a lone CR is ordinary text. A header block ended by a
//   non-header line (no empty line) ends at that line (defect missing-blank-line). A leading
//   mbox "From " line is skipped. Field values over max_field_bytes are cut and fields past
//   max_header_bytes or max_fields are not stored (defect header-too-long); the body offset
//   is still found. Never throws on content.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/defects.h"

namespace threadmill::mail {

struct HeaderField {
  std::string name;   // as received, without trailing whitespace
  std::string value;  // after the colon, leading blanks of the first line removed, raw folding
};

// RFC 5322 unfolding: removes CRLF or LF that precede WSP and trailing line breaks.
std::string Unfold(std::string_view value);

// Replaces each (possibly nested) comment by one space; quoted strings and quoted-pairs are
// kept intact. An unterminated comment runs to the end (defect unterminated if given).
std::string StripComments(std::string_view value, Defects* defects = nullptr);

class HeaderList {
 public:
  void Append(std::string name, std::string value);
  // First field with this name (case-insensitive), nullptr when absent.
  const HeaderField* Find(std::string_view name) const;
  std::vector<const HeaderField*> FindAll(std::string_view name) const;
  size_t Count(std::string_view name) const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const HeaderField& operator[](size_t i) const { return fields_[i]; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<HeaderField> fields_;
};

struct SplitLimits {
  size_t max_header_bytes = 1024 * 1024;  // whole header block stored at most
  size_t max_field_bytes = 64 * 1024;     // one raw field value at most
  size_t max_fields = 10000;
};

struct SplitMessageResult {
  HeaderList headers;
  size_t body_offset = 0;  // index in raw of the first body byte (raw.size() if none)
  Defects defects;
};

SplitMessageResult SplitMessage(std::string_view raw, const SplitLimits& limits = {});

}  // namespace threadmill::mail
