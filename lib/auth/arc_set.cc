// arc_set.cc - ARC header fields grouped into ARC sets (see arc_set.h).
#include "auth/arc_set.h"

#include <strings.h>

#include <cctype>
#include <cstring>

#include "common/ascii.h"

namespace threadmill::auth {
namespace {

bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool NameIs(std::string_view name, const char* want) {
  return name.size() == strlen(want) && strncasecmp(name.data(), want, name.size()) == 0;
}

// i= as 1..999 from a tag value; 0 when malformed.
int ParseInstance(std::string_view v) {
  v = ascii::Trim(v);
  if (v.empty() || v.size() > 3) return 0;
  int n = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

std::optional<TagList> ParseTagList(std::string_view value) {
  TagList tags;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t end = value.find(';', pos);
    if (end == std::string_view::npos) end = value.size();
    std::string_view spec = ascii::Trim(value.substr(pos, end - pos));
    pos = end + 1;
    if (spec.empty()) {
      if (end == value.size()) break;  // one trailing ";" is allowed, ";;" is not
      return std::nullopt;
    }
    size_t eq = spec.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = ascii::Trim(spec.substr(0, eq));
    if (name.empty()) return std::nullopt;
    // tag-name = ALPHA *ALNUMPUNC, case-sensitive (RFC 6376 section 3.2).
    if (!std::isalpha(static_cast<unsigned char>(name[0]))) return std::nullopt;
    std::string key;
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
      key.push_back(c);
    }
    if (!tags.emplace(key, std::string(ascii::Trim(spec.substr(eq + 1)))).second)
      return std::nullopt;
    if (end == value.size()) break;
  }
  return tags;
}

std::string WithoutSignature(std::string_view value) {
  size_t pos = 0;
  while (pos < value.size()) {
    size_t start = pos;
    while (start < value.size() && IsFws(value[start])) ++start;
    size_t end = value.find(';', start);
    if (end == std::string_view::npos) end = value.size();
    size_t eq = value.find('=', start);
    if (eq != std::string_view::npos && eq < end &&
        ascii::Trim(value.substr(start, eq - start)) == "b") {
      std::string out(value.substr(0, eq + 1));
      out.append(value.substr(end));
      return out;
    }
    pos = end + 1;
  }
  return std::string(value);
}

std::string StripWhiteSpace(std::string_view value) {
  std::string out;
  for (char c : value)
    if (!IsFws(c)) out.push_back(c);
  return out;
}

bool IsArcField(std::string_view name) {
  return NameIs(name, "ARC-Seal") || NameIs(name, "ARC-Message-Signature") ||
         NameIs(name, "ARC-Authentication-Results");
}

ArcSets CollectArcSets(const std::vector<ArcField>& fields, size_t max_instances) {
  ArcSets out;
  struct Slot {
    const ArcField *aar = nullptr, *ams = nullptr, *seal = nullptr;
    TagList ams_tags, seal_tags;
    std::string payload;
  };
  std::map<int, Slot> slots;
  auto fail = [&](std::string why) {
    out.sets.clear();
    out.error = std::move(why);
    return out;
  };
  for (const auto& f : fields) {
    if (!IsArcField(f.name)) continue;
    out.any = true;
    int i = 0;
    const ArcField** slot_field = nullptr;
    if (NameIs(f.name, "ARC-Authentication-Results")) {
      std::string_view v = ascii::Trim(f.value);
      size_t semi = v.find(';');
      std::string_view head = ascii::Trim(v.substr(0, semi));
      if (head.size() < 2 || (head[0] != 'i' && head[0] != 'I')) return fail("aar-no-instance");
      head = ascii::Trim(head.substr(1));
      if (head.empty() || head[0] != '=') return fail("aar-no-instance");
      i = ParseInstance(head.substr(1));
      if (i == 0) return fail("bad-instance");
      if (i > static_cast<int>(max_instances)) return fail("too-many-instances");
      slot_field = &slots[i].aar;
      slots[i].payload =
          semi == std::string_view::npos ? "" : std::string(ascii::Trim(v.substr(semi + 1)));
    } else {
      auto tags = ParseTagList(f.value);
      if (!tags) return fail("bad-tag-list");
      auto it = tags->find("i");
      if (it == tags->end() || (i = ParseInstance(it->second)) == 0) return fail("bad-instance");
      if (i > static_cast<int>(max_instances)) return fail("too-many-instances");
      if (NameIs(f.name, "ARC-Seal")) {
        slot_field = &slots[i].seal;
        slots[i].seal_tags = std::move(*tags);
      } else {
        slot_field = &slots[i].ams;
        slots[i].ams_tags = std::move(*tags);
      }
    }
    if (*slot_field != nullptr) return fail("duplicate-instance");
    *slot_field = &f;
  }
  int expect = 1;
  for (auto& [i, s] : slots) {
    if (i != expect) return fail("missing-instance");
    if (!s.aar || !s.ams || !s.seal) return fail("incomplete-set");
    ArcSet set;
    set.instance = i;
    set.aar = *s.aar;
    set.ams = *s.ams;
    set.seal = *s.seal;
    set.ams_tags = std::move(s.ams_tags);
    set.seal_tags = std::move(s.seal_tags);
    set.aar_payload = std::move(s.payload);
    out.sets.push_back(std::move(set));
    ++expect;
  }
  return out;
}

}  // namespace threadmill::auth
