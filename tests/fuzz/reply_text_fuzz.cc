// reply_text_fuzz.cc - libFuzzer target: quoted-reply stripping (lib/mail/reply_text).
// Invariants: valid UTF-8 in, valid UTF-8 out; never longer than the input.
#include "fuzz_check.h"
#include "mail/charset.h"
#include "mail/reply_text.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text = SanitizeUtf8(FuzzInput(data, size));
  std::string out = StripQuotedReply(text);
  FUZZ_CHECK(IsValidUtf8(out));
  FUZZ_CHECK(out.size() <= text.size());
  return 0;
}
