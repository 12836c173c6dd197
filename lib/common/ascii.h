// ascii.h - locale-free ASCII helpers: lower-casing, case-insensitive comparison, trimming.
//
// DESCRIPTION
//   Protocol tokens (header names, domains, keywords, handler patterns) are ASCII and compared
//   case-insensitively by RFC 5322 §1.2.2 / RFC 5234 §2.3. These helpers touch only A-Z and
//   the ASCII blanks, never depend on the C locale (std::tolower does), and leave every other
//   byte, UTF-8 included, as it is.
//
// LIMITS
//   No Unicode case folding: internationalized names are compared byte for byte.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::ascii {

constexpr char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

constexpr bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Space, tab, CR, LF (the blanks of RFC 5322 fields and configuration values).
constexpr bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

constexpr std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace threadmill::ascii
