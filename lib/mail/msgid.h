// msgid.h - Message-ID, In-Reply-To and References values as normalized message ids.
//
// DESCRIPTION
//   ParseMsgIdList reads every msg-id of a field value, ParseMsgId the first one. A
//   normalized id is "local@domain" without angle brackets: CFWS and folding inside removed,
//   domain lowercased, local part case kept, a quoted local part de-quoted when its content
//   is dot-atom-safe. Normalized ids are the keys threads are matched on.
//
// STANDARDS
//   RFC 5322 section 3.6.4 (msg-id), 4.5.4 (obsolete id-left/id-right with CFWS),
//   RFC 6532 (UTF-8 allowed), and what mail in the wild does (see LIMITS).
//
// LIMITS and decisions
//   - Junk between ids (In-Reply-To "Your message of Tue, ... <id@x>", phrases, stray '>')
//     is skipped with defect junk. Every <...> counts as an id: In-Reply-To written as a
//     mailbox ("Joe" <joe@x>) yields joe@x too; it matches no stored message, so it is
//     harmless for threading.
//   - Bare ids without brackets (abc@def) are used only when the value holds no bracketed
//     id at all (defect missing-angle-brackets); otherwise they are junk.
//   - Ids without '@' (<abc>, written by some old clients) are kept verbatim with defect
//     missing-at: threading still works when the same id comes back.
//   - Duplicates: the first occurrence is kept (defect duplicate-id); MsgIdList::listed
//     counts them all (References is counted as listed for max_references), but not an
//     unterminated last id (defect unterminated).
//   - Ids over 998 bytes are dropped (defect too-long); at most max_ids ids are returned
//     (defect truncated).
//   - NUL bytes are removed (defect nul-byte); 8-bit bytes are kept as received (defect 8bit,
//     and invalid-utf8 when they are not UTF-8) so the same bytes match later.
//   - Normalization is stable: for a normalized id n, the value "<n>" normalizes to n, and
//     so does n itself when it has an '@' between other characters (a '>' inside a quoted
//     local part is fine: "a>b"@x). An id for which this would not hold (quotes unbalanced
//     across its '@') is dropped with defect junk; an id without such an '@' needs its
//     brackets to be found again (callers wrap a bare one in <>).
//   Linear in the size of the value. Never throws on content.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/defects.h"

namespace threadmill::mail {

inline constexpr size_t kMaxMsgIdBytes = 998;

struct MsgIdList {
  std::vector<std::string> ids;  // normalized, in order of first appearance
  // Entries as listed: every complete id, duplicates included; a trailing id cut by a relay
  // (its '<' never closed) does not count (it is still in ids: it may match).
  size_t listed = 0;
  Defects defects;
};

struct MsgId {
  std::string id;  // normalized; empty when the value holds no usable id
  Defects defects;
};

MsgIdList ParseMsgIdList(std::string_view value, size_t max_ids = 10000);

// First usable id of the value; more ids after it are recorded as junk.
MsgId ParseMsgId(std::string_view value);

// "<" + normalized + ">".
std::string FormatMsgId(std::string_view normalized);

}  // namespace threadmill::mail
