// transfer_encoding_fuzz.cc - libFuzzer target: base64 and quoted-printable decoders
// (lib/mail/transfer_encoding). Invariants: decoding never grows the input; encoding then
// decoding base64 gives the bytes back without defect.
#include "fuzz_check.h"
#include "mail/transfer_encoding.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  Defects d;
  FUZZ_CHECK(Base64Decode(in, &d).size() <= in.size());
  FUZZ_CHECK(QuotedPrintableDecode(in, false, &d).size() <= in.size());
  FUZZ_CHECK(QuotedPrintableDecode(in, true, &d).size() <= in.size());
  Defects clean;
  FUZZ_CHECK(Base64Decode(Base64Encode(in), &clean) == in && clean.empty());
  return 0;
}
