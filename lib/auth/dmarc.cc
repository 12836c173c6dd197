// dmarc.cc - see dmarc.h.
#include "auth/dmarc.h"

#include <arpa/inet.h>

#include <cstring>
#include <mutex>
#include <random>
#include <set>

extern "C" {
#include <opendmarc/dmarc.h>
}

#include "auth/resolver.h"

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
  std::string record;  // exactly one v=DMARC1 record, or empty
  std::string error;
};

// RFC 7489 section 6.6.3: records not starting with v=DMARC1 are ignored; more than
// one remaining record means no record.
Fetched FetchRecord(Resolver& resolver, const std::string& domain, DnsDeadline deadline) {
  Fetched f;
  DnsResult r = resolver.Query("_dmarc." + domain, kTypeTxt, deadline);
  f.status = r.status;
  f.error = r.error;
  if (r.status != DnsStatus::kAnswer) return f;
  int found = 0;
  for (const std::string& txt : r.records) {
    std::string_view v(txt);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.size() >= 8 && strncasecmp(v.data(), "v=DMARC1", 8) == 0 &&
        (v.size() == 8 || v[8] == ';' || v[8] == ' ')) {
      ++found;
      f.record = txt;
    }
  }
  if (found != 1) f.record.clear();
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

std::vector<std::string> ExtractFromDomains(std::string_view v) {
  std::vector<std::string> out;
  std::string token;  // current mailbox, comments and quoted strings removed
  std::string angle;  // content of <...> when seen
  bool in_angle = false, has_angle = false;
  auto flush = [&] {
    std::string_view addr = has_angle ? std::string_view(angle) : std::string_view(token);
    size_t at = addr.rfind('@');
    if (at != std::string_view::npos) {
      std::string_view dom = addr.substr(at + 1);
      while (!dom.empty() && (dom.back() == ' ' || dom.back() == '\t' || dom.back() == '\r' ||
                              dom.back() == '\n' || dom.back() == '.'))
        dom.remove_suffix(1);
      while (!dom.empty() && (dom.front() == ' ' || dom.front() == '\t')) dom.remove_prefix(1);
      if (!dom.empty() && dom.find_first_of(" \t<>") == std::string_view::npos)
        out.push_back(ToLowerAscii(dom));
    }
    token.clear();
    angle.clear();
    has_angle = in_angle = false;
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '"') {  // quoted string: skip (display name or quoted local part)
      for (++i; i < v.size() && v[i] != '"'; ++i)
        if (v[i] == '\\') ++i;
      (in_angle ? angle : token) += 'q';
      continue;
    }
    if (c == '(') {  // comment, nested
      int depth = 1;
      for (++i; i < v.size() && depth > 0; ++i) {
        if (v[i] == '\\')
          ++i;
        else if (v[i] == '(')
          ++depth;
        else if (v[i] == ')')
          --depth;
      }
      --i;
      continue;
    }
    if (in_angle) {
      if (c == '>')
        in_angle = false;
      else
        angle += c;
      continue;
    }
    if (c == '<') {
      in_angle = has_angle = true;
      angle.clear();
    } else if (c == ',' || c == ';') {
      flush();
    } else if (c == ':') {
      token.clear();  // group display name
    } else {
      token += c;
    }
  }
  flush();
  return out;
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

DmarcOutcome DmarcEvaluator::Evaluate(const DmarcInput& in, DnsDeadline deadline) const {
  DmarcOutcome out;
  std::set<std::string> domains;
  for (const auto& h : in.from_headers)
    for (auto& d : ExtractFromDomains(h)) domains.insert(d);
  if (domains.empty()) {
    out.result = DmarcResult::kPermError;
    out.reason = in.from_headers.empty() ? "no From header" : "no domain in From";
    return out;
  }
  if (domains.size() > 1) {
    out.result = DmarcResult::kPermError;
    out.from_domain = *domains.begin();
    out.reason = "From names several domains";
    return out;
  }
  out.from_domain = *domains.begin();
  std::string org = psl_.OrganizationalDomain(out.from_domain);

  // Record discovery (section 6.6.3), on our resolver.
  Fetched f = FetchRecord(resolver_, out.from_domain, deadline);
  bool from_org = false;
  if (f.status == DnsStatus::kTempFail) {
    out.result = DmarcResult::kTempError;
    out.reason = "DNS: " + f.error;
    return out;
  }
  if (f.record.empty() && !org.empty() && org != out.from_domain) {
    f = FetchRecord(resolver_, org, deadline);
    from_org = true;
    if (f.status == DnsStatus::kTempFail) {
      out.result = DmarcResult::kTempError;
      out.reason = "DNS: " + f.error;
      return out;
    }
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
    std::string d = ToLowerAscii(domain);
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
