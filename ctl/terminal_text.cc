// terminal_text.cc - escaping for terminal output (see terminal_text.h).
#include "ctl/terminal_text.h"

#include <cstdio>

#include "mail/charset.h"

namespace threadmill::ctl {
namespace {

// Length the lead byte announces (1 for ASCII and stray bytes).
size_t SequenceLength(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

char32_t Decode(std::string_view seq) {
  auto b = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(seq[k])); };
  switch (seq.size()) {
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    case 4:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    default:
      return b(0);
  }
}

bool IsUnsafeCodePoint(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
         cp == 0x2029;
}

void AppendByteEscape(std::string* out, unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", c);
  *out += buf;
}

}  // namespace

std::string TerminalText(std::string_view s, bool multiline) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\t' || (c == '\n' && multiline) || (c >= 0x20 && c != 0x7F)) {
        out += static_cast<char>(c);
      } else {
        AppendByteEscape(&out, c);
      }
      ++i;
      continue;
    }
    size_t n = SequenceLength(c);
    std::string_view seq = s.substr(i, n);
    if (seq.size() != n || !mail::IsValidUtf8(seq)) {
      AppendByteEscape(&out, c);
      ++i;
      continue;
    }
    char32_t cp = Decode(seq);
    if (IsUnsafeCodePoint(cp)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(seq);
    }
    i += n;
  }
  return out;
}

}  // namespace threadmill::ctl
