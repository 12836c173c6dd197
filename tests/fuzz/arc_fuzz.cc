// arc_fuzz.cc - libFuzzer target: a message's ARC header fields (RFC 8617: ARC-Seal,
// ARC-Message-Signature, ARC-Authentication-Results) as a hostile sender writes them, fed
// to ParseTagList/WithoutSignature (lib/auth/arc_set) field by field and to ArcVerifier
// (lib/auth/arc_verify: CollectArcSets, cv= chain rules, canonicalization, body hashes,
// key records, RSA-SHA256 with OpenSSL) the way the Authenticator feeds it: header fields,
// then body chunks, then Finish() with a key look-up. No DNS: the look-up answers every
// name with the value of the message's last X-Fuzz-Key field when it has one (so key
// records are fuzzed too), otherwise with a fixed RSA-2048 key whose private half was
// thrown away.
//
// Invariants: never arc=pass (nobody can sign for these keys); arc=none exactly when the
// message has no ARC field; at most max_instances sets; WithoutSignature never grows a
// field; no tag list has an empty tag name.
#include <memory>
#include <string>

#include "auth/arc_set.h"
#include "auth/arc_verify.h"
#include "fuzz_check.h"
#include "mail/header.h"

using namespace threadmill;

namespace {

constexpr const char* kFixedKey =
    "v=DKIM1; k=rsa; "
    "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwhxT859ZfHAFEmDNvhDXla90CpPZGip3MdajtOkCQ9v9pL/"
    "Ro8aYtrEHKnz9LlmA1N+HRrUckuP3jkDwlZjXkHUS6+"
    "UCtbBez6r8EEAC1qkO4X5wLCjh8vnfD9hey3y8keH3rk2kENoei9//9OWEgUCUxKSd/"
    "m6loOqhLwCfc2Q0gaKr8p4m5+1NRYkz7PlI7EGc15oaBgIfv1g99iVVN6SjUuYwvKRTQHBBmSKN0Cxuk4jXM/"
    "7LBXcl9XR/uVPvbFicDHa4Iq53eNkIrpIrK2Cb/"
    "lDA24qSeyQ0rX8FI1NItE4o7FULULf3mVdikkvJdIkbh1IMvcRCpoGtJOSjswIDAQAB";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  mail::SplitMessageResult split = mail::SplitMessage(in);
  auth::ArcVerifier v;
  std::string key = kFixedKey;
  bool any_arc = false;
  for (const auto& f : split.headers) {
    std::string name(f.name);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (auth::IsArcField(f.name)) {
      any_arc = true;
      if (auto tags = auth::ParseTagList(f.value))
        for (const auto& [tag, value] : *tags) FUZZ_CHECK(!tag.empty());
      FUZZ_CHECK(auth::WithoutSignature(f.value).size() <= f.value.size());
    }
    if (name == "X-Fuzz-Key") key = std::string(f.value);
    v.Header(f.name, f.value);
  }
  v.EndOfHeaders();
  std::string_view body = in.substr(split.body_offset);
  for (size_t i = 0; i < body.size(); i += 61) v.Body(body.substr(i, 61));
  auth::ArcOutcome out = v.Finish([&key](const std::string&) {
    auth::DnsResult r;
    r.status = auth::DnsStatus::kAnswer;
    r.records = {key};
    return r;
  });
  FUZZ_CHECK(out.result != auth::ArcResult::kPass);
  FUZZ_CHECK((out.result == auth::ArcResult::kNone) == !any_arc);
  FUZZ_CHECK(out.instances >= 0 && static_cast<size_t>(out.instances) <= auth::kArcMaxInstances);
  return 0;
}
