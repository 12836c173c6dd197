// rfc2231.cc - MIME parameters (see rfc2231.h).
#include "mail/rfc2231.h"

#include <algorithm>
#include <map>

#include "common/ascii.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

namespace threadmill::mail {
namespace {

constexpr size_t kMaxParams = kMaxMimeParameters;
constexpr size_t kMaxRawParams = kMaxParams * 4;    // sections of continued parameters included
constexpr size_t kMaxSegments = kMaxRawParams * 4;  // ';'-separated pieces, empty ones included
constexpr int kMaxSection = 999;

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct RawParam {
  std::string name;  // lowercased, without the *N* suffix
  int section = -1;  // -1: no continuation number
  bool extended = false;
  std::string value;  // unquoted raw value
};

// Reads the value at v[pos] (quoted string or token up to ';'); returns the index after it.
size_t ReadValue(std::string_view v, size_t pos, std::string* out, bool* quoted, Defects* defects) {
  while (pos < v.size() && (v[pos] == ' ' || v[pos] == '\t')) ++pos;
  *quoted = pos < v.size() && v[pos] == '"';
  if (!*quoted) {
    size_t end = std::min(v.find(';', pos), v.size());
    *out = std::string(ascii::Trim(v.substr(pos, end - pos)));
    return end;
  }
  for (++pos; pos < v.size(); ++pos) {
    if (v[pos] == '\\' && pos + 1 < v.size()) {
      *out += v[++pos];
    } else if (v[pos] == '"') {
      return std::min(v.find(';', pos), v.size());
    } else {
      *out += v[pos];
    }
  }
  defects->Add(Defect::kUnterminated);
  return pos;
}

// Splits "name*2*" into its parts.
void SplitName(std::string_view full, RawParam* p, Defects* defects) {
  std::string_view name = full;
  if (!name.empty() && name.back() == '*') {
    p->extended = true;
    name.remove_suffix(1);
  }
  size_t star = name.find('*');
  if (star != std::string_view::npos) {
    std::string_view num = name.substr(star + 1);
    int n = 0;
    bool ok = !num.empty() && num.size() <= 3 &&
              std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
    for (char c : num) n = ok ? n * 10 + (c - '0') : 0;
    if (!ok || n > kMaxSection) defects->Add(Defect::kBadParameter);
    p->section = ok ? n : -1;
    name = name.substr(0, star);
  }
  p->name = ascii::ToLower(ascii::Trim(name));
}

// One pass over "; name=value; ..." from v[pos] == ';': every byte is looked at a bounded
// number of times (no search from a segment's start to the end of the value, which made
// thousands of empty or '='-less segments quadratic). Stops at kMaxSegments segments.
std::vector<RawParam> ReadRawParams(std::string_view v, size_t pos, Defects* defects) {
  std::vector<RawParam> raw;
  size_t segments = 0;
  while (pos < v.size()) {
    if (++segments > kMaxSegments || raw.size() >= kMaxRawParams) {
      defects->Add(Defect::kTruncated);
      break;
    }
    size_t start = ++pos;  // after the ';'
    while (pos < v.size() && v[pos] != '=' && v[pos] != ';') ++pos;
    if (pos >= v.size() || v[pos] == ';') {  // no '=' in this segment
      if (!ascii::Trim(v.substr(start, pos - start)).empty()) {
        defects->Add(Defect::kBadParameter);
      }
      continue;
    }
    RawParam p;
    SplitName(v.substr(start, pos - start), &p, defects);
    bool quoted = false;
    pos = ReadValue(v, pos + 1, &p.value, &quoted, defects);
    if (p.name.empty()) {
      defects->Add(Defect::kBadParameter);
    } else {
      raw.push_back(std::move(p));
    }
  }
  return raw;
}

// Joins the sections of one extended parameter and converts it to UTF-8.
std::string AssembleExtended(std::vector<const RawParam*> parts, Defects* defects) {
  std::stable_sort(parts.begin(), parts.end(),
                   [](const RawParam* a, const RawParam* b) { return a->section < b->section; });
  std::string charset, bytes;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view val = parts[i]->value;
    if (i == 0 && parts[i]->extended) {  // charset'language'value
      size_t q1 = val.find('\''), q2 = q1 == std::string_view::npos ? q1 : val.find('\'', q1 + 1);
      if (q2 != std::string_view::npos) {
        charset = std::string(val.substr(0, q1));
        val = val.substr(q2 + 1);
      } else {
        defects->Add(Defect::kBadParameter);
      }
    }
    bytes += parts[i]->extended ? PercentDecode(val) : std::string(val);
  }
  if (charset.empty()) return DecodeEncodedWords(bytes, defects);
  return ToUtf8(bytes, charset, defects);
}

}  // namespace

std::string ParameterizedValue::Get(std::string_view name) const {
  for (const auto& [n, v] : params) {
    if (ascii::EqualsIgnoreCase(n, name)) return v;
  }
  return {};
}

bool ParameterizedValue::Has(std::string_view name) const {
  return std::any_of(params.begin(), params.end(),
                     [&](const auto& p) { return ascii::EqualsIgnoreCase(p.first, name); });
}

ParameterizedValue ParseParameters(std::string_view header_value) {
  ParameterizedValue out;
  if (header_value.size() > kMaxParameterValueBytes) {
    header_value = header_value.substr(0, kMaxParameterValueBytes);
    out.defects.Add(Defect::kHeaderTooLong);
  }
  std::string v = StripComments(Unfold(header_value), &out.defects);
  size_t semi = std::min(v.find(';'), v.size());
  out.value = ascii::ToLower(ascii::Trim(std::string_view(v).substr(0, semi)));
  std::vector<RawParam> raw = ReadRawParams(v, semi, &out.defects);
  // Group by name, keeping first-appearance order; extended (name* / name*N) wins.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RawParam*>> extended;
  std::map<std::string, const RawParam*> plain;
  for (const auto& p : raw) {
    bool ext = p.extended || p.section >= 0;
    if (!plain.count(p.name) && !extended.count(p.name)) order.push_back(p.name);
    if (ext) {
      extended[p.name].push_back(&p);
    } else if (!plain.count(p.name)) {
      plain[p.name] = &p;
    }
  }
  for (const auto& name : order) {
    if (out.params.size() >= kMaxParams) {
      out.defects.Add(Defect::kTruncated);
      break;
    }
    auto it = extended.find(name);
    std::string value = it != extended.end() ? AssembleExtended(it->second, &out.defects)
                                             : DecodeEncodedWords(plain[name]->value, &out.defects);
    out.params.emplace_back(name, std::move(value));
  }
  return out;
}

}  // namespace threadmill::mail
