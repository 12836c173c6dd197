// dmarc_record_fuzz.cc - libFuzzer target: the bytes of a `_dmarc` TXT record (RFC 7489
// section 6.3/6.4), as an attacker publishes it in their own zone, handed to DmarcEvaluator
// (lib/auth/dmarc) as a prefetched answer (DmarcInput::records, as the Authenticator does),
// so our version-term check and libopendmarc's record parser (opendmarc_policy_store_dmarc)
// read them. The input is the record text; the same record is evaluated for a message whose
// SPF aligns and for one where nothing aligns. No DNS: the resolver forwards to a closed
// loopback port and the deadline has passed, so no other look-up leaves the machine.
//
// Invariants: a record that does not start with the version term v=DMARC1 is no DMARC
// record (result none); pass only with an aligned identifier; never pass without one.
#include <chrono>
#include <map>
#include <memory>

#include "auth/dmarc.h"
#include "auth/resolver.h"
#include "fuzz_check.h"
#include "fuzz_offline_auth.h"
#include "fuzz_feature.h"

using namespace threadmill;

namespace {

auth::DmarcEvaluator* Evaluator() {
  static std::unique_ptr<auth::DmarcEvaluator> ev = [] {
    auth::DmarcOptions o;
    o.sample = [] { return 42; };
    auto e = auth::DmarcEvaluator::Create(*OfflineResolver(), o);
    FUZZ_CHECK(e.ok());
    return std::move(e).value();
  }();
  return ev.get();
}

bool StartsWithVersion(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  if (v.empty() || v.front() != 'v') return false;
  v.remove_prefix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  if (v.empty() || v.front() != '=') return false;
  v.remove_prefix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return v.substr(0, 6) == "DMARC1";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string record(FuzzInput(data, size));
  auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  std::map<std::string, auth::DnsResult> records;
  auth::DnsResult answer;
  answer.status = auth::DnsStatus::kAnswer;
  answer.records = {record};
  records.emplace("_dmarc.fuzz.example", answer);
  auth::DnsResult nx;
  nx.status = auth::DnsStatus::kNxDomain;
  records.emplace("_dmarc.sub.fuzz.example", nx);
  for (int aligned = 0; aligned < 2; ++aligned) {
    for (const char* from : {"Alice <alice@fuzz.example>", "bob@sub.fuzz.example"}) {
      auth::DmarcInput in;
      in.from_headers = {from};
      in.client_ip = "192.0.2.1";
      in.spf.result = aligned ? auth::SpfResult::kPass : auth::SpfResult::kFail;
      in.spf.domain = aligned ? "fuzz.example" : "elsewhere.test";
      in.records = &records;
      auth::DmarcOutcome out = Evaluator()->Evaluate(in, past);
      if (!StartsWithVersion(record)) FUZZ_CHECK(out.result == auth::DmarcResult::kNone);
      if (out.result == auth::DmarcResult::kPass) FUZZ_CHECK(out.spf_aligned || out.dkim_aligned);
      if (!aligned) FUZZ_CHECK(out.result != auth::DmarcResult::kPass);
      // What libopendmarc made of the record, for libFuzzer (fuzz_feature.h).
      FuzzFeature(out.reason,
                  static_cast<uint64_t>(out.result) * 4 + static_cast<uint64_t>(out.policy));
      FuzzFeature("pct",
                  static_cast<uint64_t>(out.pct) * 4 + static_cast<uint64_t>(out.disposition));
    }
  }
  return 0;
}
