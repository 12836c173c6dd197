// tag_list.cc - see tag_list.h.
#include "auth/tag_list.h"

namespace threadmill::auth {
namespace {

bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::vector<RawTag> SplitTags(std::string_view tag_list) {
  std::vector<RawTag> out;
  while (!tag_list.empty()) {
    const size_t semi = tag_list.find(';');
    const std::string_view piece = tag_list.substr(0, semi);
    tag_list = semi == std::string_view::npos ? std::string_view() : tag_list.substr(semi + 1);
    const size_t eq = piece.find('=');
    if (eq == std::string_view::npos) continue;
    out.push_back(RawTag{piece.substr(0, eq), piece.substr(eq + 1)});
  }
  return out;
}

std::string_view TrimFws(std::string_view s) {
  while (!s.empty() && IsFws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsFws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace threadmill::auth
