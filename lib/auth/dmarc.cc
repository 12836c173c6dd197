// dmarc.cc - see dmarc.h.
#include "auth/dmarc.h"

#include <arpa/inet.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <set>

extern "C" {
#include <opendmarc/dmarc.h>
}

#include "auth/resolver.h"
#include "common/ascii.h"
#include "mail/address.h"

namespace threadmill::auth {
namespace {

// libopendmarc keeps its PSL in process-global state; all its calls run under this lock.
std::mutex g_opendmarc_mu;
std::string g_opendmarc_psl;  // the path libopendmarc was initialised with

Status InitOpenDmarc(const std::string& psl_path) {
  std::lock_guard<std::mutex> lock(g_opendmarc_mu);
  if (g_opendmarc_psl == psl_path) return {};
  OPENDMARC_LIB_T lib;
  std::memset(&lib, 0, sizeof lib);
  lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
  if (psl_path.size() >= sizeof lib.tld_source_file)
    return MakeError(ErrorCode::kInvalidInput, "PSL path too long");
  std::memcpy(lib.tld_source_file, psl_path.c_str(), psl_path.size() + 1);
  if (!g_opendmarc_psl.empty()) opendmarc_policy_library_shutdown(&lib);
  if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY)
    return MakeError(ErrorCode::kInvalidInput, "libopendmarc cannot load " + psl_path);
  g_opendmarc_psl = psl_path;
  return {};
}

struct Fetched {
  DnsStatus status = DnsStatus::kNoData;
  std::string record;  // exactly one DMARC record (its version term written "v=DMARC1")
  int count = 0;       // DMARC records at the name
  std::string error;
};

// The rest of the record after a version term "v" *WSP "=" *WSP "DMARC1" (section 6.4
// grammar, exact case per section 6.3), or nullopt when `txt` is not a DMARC record.
std::optional<std::string_view> AfterVersion(std::string_view v) {
  auto wsp = [&v] {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  };
  wsp();
  if (v.empty() || v.front() != 'v') return std::nullopt;
  v.remove_prefix(1);
  wsp();
  if (v.empty() || v.front() != '=') return std::nullopt;
  v.remove_prefix(1);
  wsp();
  if (v.substr(0, 6) != "DMARC1") return std::nullopt;
  v.remove_prefix(6);
  wsp();
  if (!v.empty() && v.front() != ';') return std::nullopt;
  return v;
}

DnsResult Lookup(Resolver& resolver, const std::string& name, const DmarcInput& in,
                 DnsDeadline deadline) {
  if (in.records != nullptr) {
    auto it = in.records->find(name);
    if (it != in.records->end()) return it->second;
  }
  return resolver.Query(name, kTypeTxt, deadline);
}

// RFC 7489 section 6.6.3: records not starting with v=DMARC1 are discarded; the caller
// decides what several remaining records mean (no DMARC processing).
Fetched FetchRecord(Resolver& resolver, const std::string& domain, const DmarcInput& in,
                    DnsDeadline deadline) {
  Fetched f;
  DnsResult r = Lookup(resolver, "_dmarc." + domain, in, deadline);
  f.status = r.status;
  f.error = r.error;
  if (r.status != DnsStatus::kAnswer) return f;
  for (const std::string& txt : r.records) {
    if (auto rest = AfterVersion(txt)) {
      ++f.count;
      f.record = "v=DMARC1" + std::string(*rest);  // what libopendmarc's parser expects
    }
  }
  if (f.count != 1) f.record.clear();
  return f;
}

DmarcPolicy FromLib(int p) {
  switch (p) {
    case DMARC_RECORD_P_REJECT:
      return DmarcPolicy::kReject;
    case DMARC_RECORD_P_QUARANTINE:
      return DmarcPolicy::kQuarantine;
    default:
      return DmarcPolicy::kNone;
  }
}

u_char* U(const std::string& s) { return reinterpret_cast<u_char*>(const_cast<char*>(s.c_str())); }

}  // namespace

const char* ToString(DmarcResult result) {
  switch (result) {
    case DmarcResult::kNone:
      return "none";
    case DmarcResult::kPass:
      return "pass";
    case DmarcResult::kFail:
      return "fail";
    case DmarcResult::kTempError:
      return "temperror";
    case DmarcResult::kPermError:
      return "permerror";
  }
  return "none";
}

const char* ToString(DmarcPolicy policy) {
  switch (policy) {
    case DmarcPolicy::kNone:
      return "none";
    case DmarcPolicy::kQuarantine:
      return "quarantine";
    case DmarcPolicy::kReject:
      return "reject";
  }
  return "none";
}

std::vector<std::string> AuthorDomains(const std::vector<std::string>& from_headers) {
  std::vector<std::string_view> values(from_headers.begin(), from_headers.end());
  return mail::ParseAuthor(values).domains;
}

Result<std::unique_ptr<DmarcEvaluator>> DmarcEvaluator::Create(Resolver& resolver,
                                                               DmarcOptions options) {
  if (options.psl_path.empty())
    options.psl_path = "/usr/share/publicsuffix/effective_tld_names.dat";
  auto psl = PublicSuffixList::Load(options.psl_path);
  if (!psl) return psl.error();
  if (auto st = InitOpenDmarc(options.psl_path); !st) return st.error();
  if (!options.sample) {
    options.sample = [] {
      thread_local std::mt19937 gen{std::random_device{}()};
      return static_cast<int>(gen() % 100);
    };
  }
  return std::unique_ptr<DmarcEvaluator>(
      new DmarcEvaluator(resolver, std::move(psl).value(), std::move(options)));
}

std::vector<std::string> DmarcEvaluator::RecordNames(
    const std::vector<std::string>& author_domains) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < author_domains.size() && i < options_.max_author_domains; ++i) {
    out.push_back("_dmarc." + author_domains[i]);
    std::string org = psl_.OrganizationalDomain(author_domains[i]);
    if (!org.empty() && org != author_domains[i]) out.push_back("_dmarc." + org);
  }
  return out;
}

bool DmarcEvaluator::RelaxedAligned(std::string_view a, std::string_view b) const {
  std::string x = ascii::ToLower(a), y = ascii::ToLower(b);
  if (x.empty() || y.empty()) return false;
  if (x == y) return true;
  std::string org = psl_.OrganizationalDomain(x);
  return !org.empty() && org == psl_.OrganizationalDomain(y);
}

namespace {

int Strictness(DmarcPolicy p) {
  return p == DmarcPolicy::kReject ? 2 : p == DmarcPolicy::kQuarantine ? 1 : 0;
}

}  // namespace

DmarcOutcome DmarcEvaluator::Evaluate(const DmarcInput& in, DnsDeadline deadline) const {
  std::vector<std::string_view> values(in.from_headers.begin(), in.from_headers.end());
  mail::Author author = mail::ParseAuthor(values);
  DmarcOutcome out;
  if (author.domains.empty()) {
    out.result = DmarcResult::kPermError;
    out.reason = in.from_headers.empty() ? "no From header" : "no domain in From";
    return out;
  }
  // "a single From: field with a single domain in it" (section 6.6.1) is what DMARC
  // processes, also when that field names several mailboxes of the one domain.
  if (author.single || (author.fields == 1 && author.domains.size() == 1))
    return EvaluateDomain(author.domains.front(), in, deadline);

  // Several author domains, From fields or addresses (section 6.6.1): never a pass.
  std::string shape = author.fields > 1 ? std::to_string(author.fields) + " From fields"
                                        : "several author addresses";
  out.result = DmarcResult::kPermError;
  out.from_domain = author.domains.front();
  if (author.domains.size() > options_.max_author_domains) {
    out.disposition = DmarcPolicy::kReject;
    out.reason = shape + ": " + std::to_string(author.domains.size()) +
                 " author domains, more than max_author_domains (" +
                 std::to_string(options_.max_author_domains) + ")";
    return out;
  }
  const DmarcOutcome* strictest = nullptr;  // the strictest failing domain
  const DmarcOutcome* temp = nullptr;
  std::vector<DmarcOutcome> each;
  each.reserve(author.domains.size());
  for (const std::string& d : author.domains) each.push_back(EvaluateDomain(d, in, deadline));
  for (const DmarcOutcome& o : each) {
    if (o.result == DmarcResult::kFail &&
        (strictest == nullptr || Strictness(o.disposition) > Strictness(strictest->disposition)))
      strictest = &o;
    if (o.result == DmarcResult::kTempError && temp == nullptr) temp = &o;
  }
  if (strictest == nullptr && temp != nullptr) {
    out = *temp;
    out.reason = shape + "; " + temp->from_domain + ": " + temp->reason;
    return out;
  }
  if (strictest != nullptr) {
    out = *strictest;
    out.result = DmarcResult::kPermError;
    out.reason = shape + "; strictest failing policy: " + strictest->from_domain + " (" +
                 strictest->reason + ")";
    return out;
  }
  // Nobody fails: never a pass, no policy claimed, the first author domain in message order.
  out.reason = shape + ": no single author (RFC 7489 section 6.6.1)";
  return out;
}

DmarcOutcome DmarcEvaluator::EvaluateDomain(const std::string& domain, const DmarcInput& in,
                                            DnsDeadline deadline) const {
  DmarcOutcome out;
  out.from_domain = domain;
  std::string org = psl_.OrganizationalDomain(out.from_domain);

  // Record discovery (section 6.6.3), on our resolver.
  Fetched f = FetchRecord(resolver_, out.from_domain, in, deadline);
  bool from_org = false;
  if (f.status == DnsStatus::kTempFail) {
    out.result = DmarcResult::kTempError;
    out.reason = "DNS: " + f.error;
    return out;
  }
  if (f.count == 0 && !org.empty() && org != out.from_domain) {
    f = FetchRecord(resolver_, org, in, deadline);
    from_org = true;
    if (f.status == DnsStatus::kTempFail) {
      out.result = DmarcResult::kTempError;
      out.reason = "DNS: " + f.error;
      return out;
    }
  }
  if (f.count > 1) {
    out.result = DmarcResult::kNone;
    out.reason = "several DMARC records at _dmarc." + (from_org ? org : out.from_domain) +
                 ": no DMARC processing (RFC 7489 section 6.6.3)";
    return out;
  }
  if (f.record.empty()) {
    out.result = DmarcResult::kNone;
    out.reason = "no DMARC record";
    return out;
  }
  int p = 0, sp = 0, pct = 100, adkim = 0, aspf = 0;
  {
    // libopendmarc parses the record (tags, defaults, syntax errors).
    std::lock_guard<std::mutex> lock(g_opendmarc_mu);
    std::string ip = in.client_ip.empty() ? "0.0.0.0" : in.client_ip;
    bool v6 = ip.find(':') != std::string::npos;
    DMARC_POLICY_T* ctx = opendmarc_policy_connect_init(U(ip), v6 ? 1 : 0);
    if (ctx == nullptr) {
      out.result = DmarcResult::kTempError;
      out.reason = "libopendmarc: out of memory";
      return out;
    }
    int st = opendmarc_policy_store_dmarc(ctx, U(f.record), U(out.from_domain),
                                          from_org ? U(org) : nullptr);
    if (st != DMARC_PARSE_OKAY) {
      opendmarc_policy_connect_shutdown(ctx);
      out.result = DmarcResult::kPermError;
      out.reason = std::string("bad DMARC record: ") + opendmarc_policy_status_to_str(st);
      return out;
    }
    opendmarc_policy_fetch_p(ctx, &p);
    opendmarc_policy_fetch_sp(ctx, &sp);
    opendmarc_policy_fetch_pct(ctx, &pct);
    opendmarc_policy_fetch_adkim(ctx, &adkim);
    opendmarc_policy_fetch_aspf(ctx, &aspf);
    opendmarc_policy_connect_shutdown(ctx);
  }
  // Only a record that parsed publishes a policy: a broken one reports none (no p=, no
  // policy.dmarc), as OpenDMARC does.
  out.policy_domain = from_org ? org : out.from_domain;
  out.pct = pct;
  out.policy = FromLib(from_org && sp != DMARC_RECORD_P_UNSPECIFIED ? sp : p);

  // Identifier alignment (section 3.1), computed here: libopendmarc 1.4.2's
  // opendmarc_policy_check_alignment() reported x.example aligned with quarantine.example
  // (both under the test TLD), so it is not trusted with the decision.
  auto aligned = [&](const std::string& domain, int mode) {
    std::string d = ascii::ToLower(domain);
    if (d.empty()) return false;
    if (d == out.from_domain) return true;
    return mode != DMARC_RECORD_A_STRICT && !org.empty() && psl_.OrganizationalDomain(d) == org;
  };
  out.spf_aligned = in.spf.result == SpfResult::kPass && aligned(in.spf.domain, aspf);
  for (const auto& sig : in.dkim)
    out.dkim_aligned =
        out.dkim_aligned || (sig.result == DkimResult::kPass && aligned(sig.domain, adkim));
  if (out.spf_aligned || out.dkim_aligned) {
    out.result = DmarcResult::kPass;
    out.reason = out.dkim_aligned ? "aligned DKIM pass" : "aligned SPF pass";
    return out;
  }
  // Fail - unless a temporary error hid an identity that could have aligned.
  bool temp = in.spf.result == SpfResult::kTempError && aligned(in.spf.domain, aspf);
  for (const auto& sig : in.dkim)
    temp = temp || (sig.result == DkimResult::kTempError && aligned(sig.domain, adkim));
  if (temp) {
    out.result = DmarcResult::kTempError;
    out.reason = "an identity that could align had a temporary error";
    return out;
  }
  out.result = DmarcResult::kFail;
  out.reason = "no aligned SPF or DKIM pass";
  out.disposition = out.policy;
  if (pct < 100 && options_.sample() >= pct) {  // not sampled (section 6.6.4)
    out.disposition =
        out.policy == DmarcPolicy::kReject ? DmarcPolicy::kQuarantine : DmarcPolicy::kNone;
    out.reason += "; pct=" + std::to_string(pct) + " not sampled";
  }
  return out;
}

}  // namespace threadmill::auth
