// html_text_fuzz.cc - libFuzzer target: HTML to text (lib/mail/html_text). Invariant: valid
// UTF-8 in, valid UTF-8 out, no tab/CR/form feed left (blanks collapse).
#include "fuzz_check.h"
#include "mail/charset.h"
#include "mail/html_text.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string html = SanitizeUtf8(FuzzInput(data, size));
  std::string text = HtmlToText(html);
  FUZZ_CHECK(IsValidUtf8(text));
  FUZZ_CHECK(text.find('\r') == std::string::npos && text.find('\t') == std::string::npos);
  return 0;
}
