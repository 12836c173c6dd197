#include "auth/dkim_qp.h"

namespace threadmill::auth {
namespace {

bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsFws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsFws(s.back())) s.remove_suffix(1);
  return s;
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
  while (!tag_list.empty()) {
    size_t semi = tag_list.find(';');
    std::string_view tag = tag_list.substr(0, semi);
    tag_list = semi == std::string_view::npos ? std::string_view() : tag_list.substr(semi + 1);
    size_t eq = tag.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = Trim(tag.substr(0, eq));
    if (name != "i" && name != "z") continue;
    if (!IsDkimQuotedPrintable(tag.substr(eq + 1))) return name == "i" ? "i" : "z";
  }
  return "";
}

}  // namespace threadmill::auth
