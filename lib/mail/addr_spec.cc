// addr_spec.cc - local part and domain normalization (see addr_spec.h).
#include "mail/addr_spec.h"

#include <cstring>

namespace threadmill::mail {

bool IsAtext(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool IsDotAtom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAtext(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

std::string NormalizeLocalPart(std::string_view local) {
  if (local.size() < 2 || local.front() != '"' || local.back() != '"') {
    return std::string(local);
  }
  std::string content;
  std::string_view inner = local.substr(1, local.size() - 2);
  for (size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '\\' && i + 1 < inner.size()) ++i;
    content += inner[i];
  }
  if (IsDotAtom(content)) return content;
  std::string out = "\"";
  for (char c : content) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string NormalizeDomain(std::string_view domain) {
  std::string out(domain);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string JoinAddrSpec(std::string_view local, std::string_view domain) {
  std::string out = NormalizeLocalPart(local);
  if (!domain.empty()) {
    out += '@';
    out += NormalizeDomain(domain);
  }
  return out;
}

}  // namespace threadmill::mail
