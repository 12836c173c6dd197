#include "web/display_text.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace threadmill::web {
namespace {

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes one UTF-8 character at text[i]; returns its length (0: invalid byte).
size_t Decode(std::string_view text, size_t i, uint32_t* cp) {
  auto b = static_cast<unsigned char>(text[i]);
  size_t len = 0;
  uint32_t min = 0;
  if (b < 0x80) {
    *cp = b;
    return 1;
  } else if ((b & 0xE0) == 0xC0) {
    len = 2, *cp = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3, *cp = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4, *cp = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (c & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

bool IsBidiControl(uint32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// How code point `cp` is shown.
std::string Shown(uint32_t cp, bool multiline) {
  std::string out;
  if (cp == '\n' || cp == '\r') {
    if (multiline) {
      out += '\n';
    } else {
      AppendUtf8(out, 0x2424);
    }
  } else if (cp == '\t') {
    out += '\t';
  } else if (cp < 0x20) {
    AppendUtf8(out, 0x2400 + cp);
  } else if (cp == 0x7F) {
    AppendUtf8(out, 0x2421);
  } else if ((cp >= 0x80 && cp <= 0x9F) || IsBidiControl(cp)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "[U+%04X]", static_cast<unsigned>(cp));
    out += buf;
  } else {
    AppendUtf8(out, cp);
  }
  return out;
}

}  // namespace

std::string DisplayText(std::string_view text, bool multiline, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = Decode(text, i, &cp);
    std::string shown;
    if (len == 0) {
      shown = Shown(0xFFFD, multiline);
      ++i;
    } else {
      i += len;
      if (cp == '\r' && i < text.size() && text[i] == '\n') continue;  // CR LF -> LF
      shown = Shown(cp, multiline);
    }
    // Whole pieces only: a visible "[U+202E]" is never cut into something else.
    if (out.size() + shown.size() > max_bytes) {
      out += "\xE2\x80\xA6";  // …
      break;
    }
    out += shown;
  }
  return out;
}

}  // namespace threadmill::web
