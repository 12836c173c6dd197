// rfc2047_fuzz.cc - libFuzzer target: encoded words (lib/mail/rfc2047). Invariants: the
// decoded text is valid UTF-8 without NUL; encoding valid UTF-8 gives lines of at most 78
// characters made of ASCII.
#include <string>

#include "fuzz_check.h"
#include "mail/charset.h"
#include "mail/rfc2047.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  Defects d;
  std::string decoded = DecodeEncodedWords(in, &d);
  FUZZ_CHECK(IsValidUtf8(decoded));
  FUZZ_CHECK(decoded.find('\0') == std::string::npos);
  std::string utf8 = SanitizeUtf8(in);
  bool has_8bit = false;
  for (char c : utf8) has_8bit = has_8bit || static_cast<unsigned char>(c) >= 0x80;
  std::string encoded = EncodeHeaderWord(utf8, 9);  // "Subject: "
  if (has_8bit) {
    size_t line = 9;
    for (char c : encoded) {
      FUZZ_CHECK(static_cast<unsigned char>(c) < 0x80);
      line = c == '\n' ? 0 : line + 1;
      FUZZ_CHECK(line <= 79);  // 78 + the CR of CRLF
    }
    FUZZ_CHECK(DecodeEncodedWords(encoded) == utf8);
  }
  return 0;
}
