#include "auth/dkim_qp.h"

#include "auth/tag_list.h"

namespace threadmill::auth {
namespace {

bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

}  // namespace

bool IsDkimQuotedPrintable(std::string_view value) {
  int hex_wanted = 0;  // hex digits still owed to the last "="
  for (char c : value) {
    if (IsFws(c)) continue;
    if (hex_wanted > 0) {
      if (!IsHex(c)) return false;
      --hex_wanted;
    } else if (c == '=') {
      hex_wanted = 2;
    }
  }
  return hex_wanted == 0;
}

std::string_view BadQuotedPrintableTag(std::string_view tag_list) {
  for (const RawTag& tag : SplitTags(tag_list)) {
    std::string_view name = TrimFws(tag.name);
    if (name != "i" && name != "z") continue;
    if (!IsDkimQuotedPrintable(tag.value)) return name == "i" ? "i" : "z";
  }
  return "";
}

}  // namespace threadmill::auth
