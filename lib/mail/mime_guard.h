// mime_guard.h - bounds what the MIME splitter (mimetic) is given: header lines, header
// fields and parts.
//
// DESCRIPTION
//   mimetic grows its header name/value buffers 128 bytes at a time, copying the whole
//   buffer each time: a field of n bytes costs O(n^2) (a 4 MB Content-Type took 16 s). It
//   also builds an entity for every part before threadmill can count them (9.8 MB of empty
//   parts: 3.3 s and 885 MB). GuardForMimetic is one linear pass that follows the header
//   blocks mimetic will see (the message's, each part's after a delimiter of a boundary
//   declared so far, and a message/rfc822 part's embedded header) and returns the input
//   with, in those header blocks only:
//   - a line cut at max_field_bytes, and a field's folded lines past max_field_bytes dropped;
//   - fields past max_fields, or past max_header_bytes of the block, dropped;
//   and the message cut before the delimiter line that would start part max_parts + 1.
//   Each cut adds a defect (header-too-long; too-complex for parts). Bodies are untouched.
//   When nothing is cut the input is returned as is, without a copy.
//
// STANDARDS
//   RFC 2046 section 5.1.1 (boundary delimiter lines), RFC 5322 section 2.2 (header fields),
//   RFC 2046 section 5.2.1 (message/rfc822).
//
// LIMITS
//   Over-approximates mimetic: a line starting with "--" and a declared boundary counts as a
//   delimiter even with trailing text; lone CR ends a line (as in mimetic). Boundaries are
//   taken from Content-Type fields as they appear (at most 64 are tracked). Linear time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mail/defects.h"

namespace threadmill::mail {

struct MimeGuardLimits {
  size_t max_parts = 1000;               // delimiter lines (parts) handed to mimetic
  size_t max_fields = 1000;              // fields per header block
  size_t max_field_bytes = 16 * 1024;    // one field (all its folded lines)
  size_t max_header_bytes = 256 * 1024;  // one header block
};

// Returns `raw`, or a view of *storage holding the bounded copy.
std::string_view GuardForMimetic(std::string_view raw, const MimeGuardLimits& limits,
                                 std::string* storage, Defects* defects);

}  // namespace threadmill::mail
