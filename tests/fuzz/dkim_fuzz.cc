// dkim_fuzz.cc - libFuzzer target: a message fed to DkimVerifier (lib/auth/dkim, i.e.
// libopendkim's header, signature and body parsing and canonicalization) the way the
// milter feeds it: header fields one by one, then body chunks. No DNS: the resolver
// forwards to a closed loopback port and every look-up gets a deadline already past, so
// keys are never fetched (signatures end as temperror/permerror) and nothing leaves the
// machine.
#include <chrono>
#include <memory>

#include "auth/dkim.h"
#include "auth/resolver.h"
#include "common/ascii.h"
#include "fuzz_check.h"
#include "fuzz_offline_auth.h"
#include "mail/header.h"

using namespace threadmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  mail::SplitMessageResult split = mail::SplitMessage(in);
  auto v = OfflineDkimLibrary()->NewVerifier(auth::DkimOptions{}, "fuzz");
  // NUL bytes included: the verifier must keep them from libopendkim (issue 8 item 15).
  for (const auto& f : split.headers) v->Header(f.name, f.value);
  v->EndOfHeaders(past);
  std::string_view body = in.substr(split.body_offset);
  for (size_t i = 0; i < body.size(); i += 61) v->Body(body.substr(i, 61));
  auto results = v->EndOfMessage(past);
  // One result per DKIM-Signature field at most (our A-R lists only max_signatures of them).
  size_t fields = 0;
  for (const auto& f : split.headers) {
    std::string_view name = f.name;
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (ascii::EqualsIgnoreCase(name, "DKIM-Signature")) ++fields;
  }
  FUZZ_CHECK(results.size() <= fields);
  for (const auto& r : results) FUZZ_CHECK(r.result != auth::DkimResult::kPass);
  return 0;
}
