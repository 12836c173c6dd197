// arc_fuzz.cc - libFuzzer target: a message's ARC header fields (RFC 8617: ARC-Seal,
// ARC-Message-Signature, ARC-Authentication-Results) as a hostile sender writes them, fed
// to ParseTagList/WithoutSignature (lib/auth/arc_set) field by field and to ArcVerifier
// (lib/auth/arc_verify: CollectArcSets, cv= chain rules, canonicalization, body hashes,
// key records, RSA-SHA256 with OpenSSL) the way the Authenticator feeds it: header fields,
// then body chunks, then Finish() with a key look-up. No DNS: the look-up answers every
// name with the value of the message's last X-Fuzz-Key field when it has one (so key
// records are fuzzed too), otherwise with a fixed RSA-1024 key whose private half sealed
// the seeds valid_one.eml and valid_two.eml (tests/lib/auth/arc_sealer.cc) and was then
// thrown away, so mutations of a chain that passes are tried too.
//
// Invariants: arc=none exactly when the message has no ARC field; a pass names every
// instance (1..N, N >= 1) with its sealer; at most max_instances sets; WithoutSignature
// never grows a field; no tag list has an empty tag name.
#include <memory>
#include <string>
#include <vector>

#include "auth/arc_set.h"
#include "auth/arc_verify.h"
#include "fuzz_check.h"

using namespace threadmill;

namespace {

constexpr const char* kFixedKey =
    "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC51woaORE8uLa7c3WuZdN5wZ8ImSEaw/Bg+IbKtYA/XVfZBBkg"
    "ek43MVsSXzcd3dhzbCi58TImcJ8tezlyrKFoMTItDd73QeLSYY/CyMkHGNIjLC3e6Rj8r6l/cP6i3VthYMJ/x5ns"
    "c6hbzpd9c5EHmjRM7z0CjXTsq2QnRvBcyQIDAQAB";

// The header fields as the milter hands them over (SMFIP_HDR_LEADSPC): the name, and the
// value exactly as it follows the colon, folding line breaks included, without the final
// line break (simple canonicalization needs those bytes; mail::SplitMessage drops the
// leading blanks). A line that is not a continuation and has no colon is skipped; the
// header block ends at the first empty line. `body` is what follows.
std::vector<auth::ArcField> RawFields(std::string_view in, std::string_view* body) {
  std::vector<auth::ArcField> out;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    size_t end = nl == std::string_view::npos ? in.size() : nl + 1;
    std::string_view line = in.substr(pos, end - pos);
    pos = end;
    std::string_view text = line;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) break;
    if (text.front() == ' ' || text.front() == '\t') {
      if (!out.empty()) (out.back().value += "\r\n") += text;
      continue;
    }
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) continue;
    out.push_back({std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))});
  }
  *body = in.substr(pos);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  std::string_view body;
  std::vector<auth::ArcField> fields = RawFields(in, &body);
  auth::ArcVerifier v;
  std::string key = kFixedKey;
  bool any_arc = false;
  for (const auto& f : fields) {
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
  for (size_t i = 0; i < body.size(); i += 61) v.Body(body.substr(i, 61));
  auth::ArcOutcome out = v.Finish([&key](const std::string&) {
    auth::DnsResult r;
    r.status = auth::DnsStatus::kAnswer;
    r.records = {key};
    return r;
  });
  if (out.result == auth::ArcResult::kPass) {
    FUZZ_CHECK(out.instances >= 1 && out.hops.size() == static_cast<size_t>(out.instances));
    for (size_t i = 0; i < out.hops.size(); ++i)
      FUZZ_CHECK(out.hops[i].instance == static_cast<int>(i + 1));
  }
  FUZZ_CHECK((out.result == auth::ArcResult::kNone) == !any_arc);
  FUZZ_CHECK(out.instances >= 0 && static_cast<size_t>(out.instances) <= auth::kArcMaxInstances);
  return 0;
}
