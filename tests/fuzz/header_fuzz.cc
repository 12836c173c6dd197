// header_fuzz.cc - libFuzzer target: header block splitting, unfolding, comments, look-ups
// (lib/mail/header). Invariants: the body offset lies inside the input, no stored field
// exceeds the caps, unfolding leaves no CRLF/LF before a blank.
#include "fuzz_check.h"
#include "mail/header.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  SplitLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_field_bytes = 512;
  limits.max_fields = 20;
  SplitMessageResult r = SplitMessage(in, limits);
  FUZZ_CHECK(r.body_offset <= in.size());
  FUZZ_CHECK(r.headers.size() <= limits.max_fields);
  size_t stored = 0;
  for (const auto& f : r.headers) {
    FUZZ_CHECK(f.value.size() <= limits.max_field_bytes);
    stored += f.name.size() + f.value.size() + 2;
    std::string unfolded = Unfold(f.value);
    for (size_t i = 0; i + 1 < unfolded.size(); ++i) {
      FUZZ_CHECK(!(unfolded[i] == '\n' && (unfolded[i + 1] == ' ' || unfolded[i + 1] == '\t')));
    }
    Defects d;
    std::string stripped = StripComments(unfolded, &d);
    FUZZ_CHECK(stripped.size() <= unfolded.size() + 1);
    FUZZ_CHECK(r.headers.Find(f.name) != nullptr);
    FUZZ_CHECK(r.headers.Count(f.name) == r.headers.FindAll(f.name).size());
  }
  FUZZ_CHECK(stored <= limits.max_header_bytes);
  SplitMessage(in);  // default limits
  return 0;
}
