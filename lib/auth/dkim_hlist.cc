#include "auth/dkim_hlist.h"

#include "auth/tag_list.h"
#include "common/ascii.h"

namespace threadmill::auth {
namespace {

// White space as libopendkim's dkim_collapse drops it from tag names and values (isspace).
bool IsCSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string Collapse(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!IsCSpace(c)) out += c;
  return out;
}

// The h= list `names` (collapsed) against the header, the way dkim_canon_selecthdrs walks
// it: true when a name comes after every field is used.
bool Overruns(std::string_view names, const HeaderNames& header) {
  std::map<std::string, size_t> used;  // per name
  size_t used_fields = 0;
  while (!names.empty()) {
    size_t colon = names.find(':');
    std::string_view name = names.substr(0, colon);
    names = colon == std::string_view::npos ? std::string_view() : names.substr(colon + 1);
    if (name.empty()) continue;  // strtok_r skips empty names
    if (used_fields == header.fields) return true;
    std::string lower = ascii::ToLower(name);
    auto it = header.count.find(lower);
    if (it == header.count.end()) continue;
    size_t& n = used[lower];
    if (n < it->second) {
      ++n;
      ++used_fields;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string_view> LibraryFieldName(std::string_view field) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view name = field.substr(0, colon);
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u > 126 || c == ';') return std::nullopt;
  }
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return name;
}

HeaderNames CountFieldNames(const std::vector<std::string_view>& field_names) {
  HeaderNames h;
  for (std::string_view n : field_names) ++h.count[ascii::ToLower(n)];
  h.fields = field_names.size();
  return h;
}

bool HeaderListOverruns(std::string_view tag_list, const HeaderNames& header) {
  for (const RawTag& tag : SplitTags(tag_list)) {
    if (ascii::ToLower(Collapse(tag.name)) != "h") continue;
    if (Overruns(Collapse(tag.value), header)) return true;
  }
  return false;
}

}  // namespace threadmill::auth
