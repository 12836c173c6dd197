// display_text_fuzz.cc - libFuzzer target: the console's text made safe for display
// (web/display_text). The first byte picks one-line or multi-line and a small output bound.
// Invariants: valid UTF-8 out; no C0 control but tab (and LF in multi-line text), no DEL, no
// C1 or bidirectional control left; the output stays within its bound plus the "…" mark.
#include "fuzz_check.h"
#include "mail/charset.h"
#include "web/display_text.h"

#include <string>

namespace {

// The code point at s[i] (valid UTF-8 assumed), and its length in *len.
uint32_t CodePoint(const std::string& s, size_t i, size_t* len) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return *len = 1, b;
  if (b < 0xE0) return *len = 2, ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3F);
  if (b < 0xF0) {
    *len = 3;
    return ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3F);
  }
  *len = 4;
  return ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
         (s[i + 3] & 0x3F);
}

bool Forbidden(uint32_t cp, bool multiline) {
  if (cp == '\t' || (multiline && cp == '\n')) return false;
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return true;
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool multiline = data[0] & 1;
  size_t max_bytes = (data[0] & 2) ? 1 << 20 : 16 + (data[0] >> 2);
  std::string out = threadmill::web::DisplayText(FuzzInput(data + 1, size - 1), multiline,
                                                 max_bytes);
  FUZZ_CHECK(threadmill::mail::IsValidUtf8(out));
  FUZZ_CHECK(out.size() <= max_bytes + 3);  // "…" is 3 bytes
  for (size_t i = 0, len = 0; i < out.size(); i += len) {
    FUZZ_CHECK(!Forbidden(CodePoint(out, i, &len), multiline));
  }
  return 0;
}
