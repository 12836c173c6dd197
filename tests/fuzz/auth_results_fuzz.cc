// auth_results_fuzz.cc - libFuzzer target: Authentication-Results parsing (lib/auth/
// auth_results). Invariants: a field that parses claims its own authserv-id; building our
// A-R from the verdicts read back never throws.
#include "auth/auth_results.h"
#include "fuzz_check.h"

using namespace threadmill::auth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  auto parsed = ParseAuthResults(in);
  ClaimsAuthservId(in, "mx.example.org");
  if (parsed.ok()) {
    if (!parsed->authserv_id.empty()) FUZZ_CHECK(ClaimsAuthservId(in, parsed->authserv_id));
    Verdicts v = VerdictsFromAuthResults(*parsed);
    BuildAuthResults(v, "mx.example.org");
    VerdictsFromAuthResults(std::vector<ParsedAuthResults>{*parsed, *parsed});
  }
  return 0;
}
