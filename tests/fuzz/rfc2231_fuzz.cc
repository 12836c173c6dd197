// rfc2231_fuzz.cc - libFuzzer target: MIME parameters (lib/mail/rfc2231). Invariants: at
// most kMaxMimeParameters parameters, names lowercased and unique, values valid UTF-8.
#include <set>
#include <string>

#include "fuzz_check.h"
#include "mail/charset.h"
#include "mail/rfc2231.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ParameterizedValue v = ParseParameters(FuzzInput(data, size));
  FUZZ_CHECK(v.params.size() <= kMaxMimeParameters);
  std::set<std::string> names;
  for (const auto& [name, value] : v.params) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(names.insert(name).second);
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    FUZZ_CHECK(IsValidUtf8(value));
    FUZZ_CHECK(v.Get(name) == value);
  }
  return 0;
}
