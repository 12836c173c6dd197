// tag_list.h - the pieces of a DKIM tag-list as libopendkim splits them, for the checks that
// keep hostile DKIM-Signature fields from it (dkim_qp.h, dkim_hlist.h) and for reading d=, s=
// and a= of a signature it was not given (dkim.cc).
//
// DESCRIPTION
//   Splits at every ';' and each piece at its first '='. Names and values come back raw,
//   white space included: each caller trims the way the code it must agree with does
//   (libopendkim drops all white space from h=; RFC 6376 trims FWS around i= and z=).
//
// STANDARDS
//   RFC 6376 section 3.2 (tag-list, tag-spec).
//
// LIMITS
//   No validation: a piece without '=' is skipped, a tag that appears twice comes back twice,
//   names and values are not checked. ARC's strict parser is ParseTagList (arc_set.h).
#pragma once

#include <string_view>
#include <vector>

namespace threadmill::auth {

struct RawTag {
  std::string_view name;
  std::string_view value;
};

// The tag=value pieces of `tag_list`, in order; views into it.
std::vector<RawTag> SplitTags(std::string_view tag_list);

// `s` without leading and trailing FWS characters (SP, HTAB, CR, LF).
std::string_view TrimFws(std::string_view s);

}  // namespace threadmill::auth
