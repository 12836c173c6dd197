// dkim_hlist.h - checks a DKIM-Signature's h= list against the header before libopendkim
// selects the signed fields.
//
// DESCRIPTION
//   libopendkim's dkim_canon_selecthdrs (2.11.0, as in Debian 12) walks the names of h= and
//   gives each the last not yet used field of that name; its array of used fields has one
//   slot per header field, and it clears the next slot before it looks at each name. When
//   the names of h= have used every field of the header and one more name follows, that
//   clear writes 8 zero bytes past the end of the array (heap-buffer-overflow, found by
//   fuzz_dkim against an ASan build of libopendkim: dkim-canon.c:1052, called by dkim_eoh).
//   In an uninstrumented library the write lands on the next heap block: the ASan report
//   "CHECK failed: asan_allocator.cpp:210" in a later free, or glibc heap damage.
//   The verifier hands the header to libopendkim only at the end of the header, keeps such
//   a DKIM-Signature field from it and reports the signature as permerror.
//
// STANDARDS
//   RFC 6376 section 3.5 (h=: a colon-separated list of field names), section 5.4.2 (each
//   name takes the last unused instance of its field; names beyond the instances present
//   sign nothing, so h= may be longer than the header), section 3.2 (tag-list).
//
// LIMITS
//   A legitimate signer may name more fields than exist; only the shape that makes
//   libopendkim write past its array is refused: every field of the header (the signature's
//   own field included) used, then one more name. Such a signature also covers every trace
//   field an MTA added after it was made, so it could not verify behind one anyway.
//   Every h= tag of the field is checked (libopendkim uses the last; tag names in any case),
//   and the whole value (libopendkim cuts it at 4095 bytes, which only drops names).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace threadmill::auth {

// The name libopendkim's dkim_header gives the field `field` ("Name:value" as handed to
// it): the bytes before the first colon without trailing spaces. nullopt when dkim_header
// refuses the field (no colon, a byte outside 32..126 or a ';' before the colon), which
// then is not part of the header it selects from.
std::optional<std::string_view> LibraryFieldName(std::string_view field);

// The header as libopendkim selects from it: how many fields of each (lower-cased) name.
struct HeaderNames {
  std::map<std::string, size_t> count;
  size_t fields = 0;
};
HeaderNames CountFieldNames(const std::vector<std::string_view>& field_names);

// True when an h= tag of the DKIM-Signature field value `tag_list` uses every field of
// `header` (all fields handed to libopendkim, names compared case-insensitively) and then
// names one more: libopendkim would write past its array of selected fields. Linear in the
// length of h= (times a log).
bool HeaderListOverruns(std::string_view tag_list, const HeaderNames& header);

}  // namespace threadmill::auth
