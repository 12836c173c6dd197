// spf.cc - see spf.h. libspf2 on a DNS layer backed by threadmill's Resolver.
#include "auth/spf.h"

// libspf2's headers need these first and declare no extern "C".
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
}

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "auth/resolver.h"
#include "common/ascii.h"

namespace threadmill::auth {
namespace {

using Clock = std::chrono::steady_clock;

// The deadline of the check running on this thread (libspf2's lookup hook has no
// per-request argument).
thread_local DnsDeadline tl_deadline;

constexpr int kNsTypeSpf = 99;  // RFC 4408's SPF RR type, obsolete (RFC 7208 section 3.1)

// RFC 7208 limits libspf2 1.2 does not keep across include/redirect, counted from the
// look-ups of one check (libspf2's lookup hook sees each one):
//   section 4.6.4: at most 10 terms that query DNS (include, a, mx, ptr, exists, redirect)
//   and at most 2 of them "void" (NXDOMAIN or no answer); section 6: redirect= and exp=
//   at most once per record. The A/AAAA look-ups of an mx or ptr term's names belong to
//   that term. The first TXT look-up (the checked domain's record) is not a term; each
//   later TXT look-up is an include or a redirect.
struct SpfLimits {
  int terms = 0;
  int voids = 0;
  bool first_txt = true;
  std::set<std::string> term_names;  // names an mx/ptr answer gave (their A/AAAA are free)
  std::string violation;             // non-empty: the check is permerror
};
thread_local SpfLimits* tl_limits = nullptr;
constexpr int kMaxDnsTerms = 10;
constexpr int kMaxVoidLookups = 2;

// Lowercased, without a trailing root dot: the form SPF compares names and records in.
std::string CanonicalName(std::string_view s) {
  std::string out = ascii::ToLower(s);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// Section 6: "redirect" and "exp" MUST NOT appear more than once in a record.
void CheckModifiers(const std::string& txt, SpfLimits* limits) {
  std::string rec = CanonicalName(txt);
  if (rec.rfind("v=spf1", 0) != 0 || (rec.size() > 6 && rec[6] != ' ')) return;
  int redirect = 0, exp = 0;
  size_t pos = 0;
  while (pos < rec.size()) {
    size_t end = rec.find(' ', pos);
    std::string_view term(rec.data() + pos, (end == std::string::npos ? rec.size() : end) - pos);
    redirect += term.rfind("redirect=", 0) == 0;
    exp += term.rfind("exp=", 0) == 0;
    pos = end == std::string::npos ? rec.size() : end + 1;
  }
  if ((redirect > 1 || exp > 1) && limits->violation.empty())
    limits->violation = std::string("SPF record with a repeated ") +
                        (redirect > 1 ? "redirect=" : "exp=") + " modifier (RFC 7208 section 6)";
}

// Counts one look-up against the limits; false when it must not be made.
bool CountLookup(SpfLimits* limits, const std::string& name, ns_type type) {
  if (limits == nullptr) return true;
  if (!limits->violation.empty()) return false;
  bool term = true;
  if (type == ns_t_txt) {
    term = !limits->first_txt;
    limits->first_txt = false;
  } else if (type == ns_t_a || type == ns_t_aaaa) {
    term = limits->term_names.count(name) == 0;
  }
  if (term && ++limits->terms > kMaxDnsTerms) {
    limits->violation = "more than 10 DNS-querying terms (RFC 7208 section 4.6.4)";
    return false;
  }
  return true;
}

SPF_dns_rr_t* Lookup(SPF_dns_server_t* server, const char* domain, ns_type type, int) {
  auto* resolver = static_cast<Resolver*>(server->hook);
  if (static_cast<int>(type) == kNsTypeSpf)
    return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
  std::string name = CanonicalName(domain);
  SpfLimits* limits = tl_limits;
  bool first = limits != nullptr && limits->first_txt && type == ns_t_txt;
  bool free_name = (type == ns_t_a || type == ns_t_aaaa) && limits != nullptr &&
                   limits->term_names.count(name) != 0;
  if (!CountLookup(limits, name, type))
    return SPF_dns_rr_new_init(server, domain, type, 0, HOST_NOT_FOUND);
  DnsResult r = resolver->Query(domain, static_cast<uint16_t>(type), tl_deadline);
  if (limits != nullptr) {
    bool is_void = r.status == DnsStatus::kNxDomain || r.status == DnsStatus::kNoData ||
                   (r.status == DnsStatus::kAnswer && r.records.empty());
    if (is_void && !first && !free_name && ++limits->voids > kMaxVoidLookups &&
        limits->violation.empty())
      limits->violation = "more than 2 void DNS lookups (RFC 7208 section 4.6.4)";
    if (r.status == DnsStatus::kAnswer && (type == ns_t_mx || type == ns_t_ptr))
      for (const auto& rec : r.records) limits->term_names.insert(CanonicalName(rec));
    if (r.status == DnsStatus::kAnswer && type == ns_t_txt)
      for (const auto& rec : r.records) CheckModifiers(rec, limits);
  }
  switch (r.status) {
    case DnsStatus::kNxDomain:
      return SPF_dns_rr_new_init(server, domain, type, 0, HOST_NOT_FOUND);
    case DnsStatus::kNoData:
      return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
    case DnsStatus::kTempFail:
      return SPF_dns_rr_new_init(server, domain, type, 0, TRY_AGAIN);
    case DnsStatus::kAnswer:
      break;
  }
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, r.ttl, NETDB_SUCCESS);
  if (rr == nullptr) return nullptr;
  int n = 0;
  for (const std::string& rec : r.records) {
    size_t need = rec.size() + 1;
    if (type == ns_t_a) need = sizeof(in_addr);
    if (type == ns_t_aaaa) need = sizeof(in6_addr);
    if (SPF_dns_rr_buf_realloc(rr, n, need) != SPF_E_SUCCESS) break;
    if (type == ns_t_a) {
      std::memcpy(&rr->rr[n]->a, rec.data(), sizeof(in_addr));
    } else if (type == ns_t_aaaa) {
      std::memcpy(&rr->rr[n]->aaaa, rec.data(), sizeof(in6_addr));
    } else {
      // txt, mx and ptr share the storage of the union.
      std::memcpy(rr->rr[n]->txt, rec.c_str(), rec.size() + 1);
    }
    ++n;
  }
  rr->num_rr = n;
  if (n == 0) rr->herrno = NO_DATA;
  return rr;
}

// True when libspf2 recorded a syntax error while compiling a record: it then returns
// SPF_E_NOT_SPF ("no valid record"), but RFC 7208 section 4.6 makes that a permerror.
bool HadSyntaxError(SPF_response_t* resp) {
  if (resp == nullptr) return false;
  for (int i = 0; i < SPF_response_messages(resp); ++i) {
    SPF_error_t* e = SPF_response_message(resp, i);
    if (e == nullptr || !SPF_error_errorp(e)) continue;
    SPF_errcode_t code = SPF_error_code(e);
    if (code != SPF_E_NOT_SPF && code != SPF_E_DNS_ERROR && code != SPF_E_SUCCESS) return true;
  }
  return false;
}

SpfResult Map(SPF_result_t result, SPF_errcode_t err) {
  switch (result) {
    case SPF_RESULT_PASS:
      return SpfResult::kPass;
    case SPF_RESULT_FAIL:
      return SpfResult::kFail;
    case SPF_RESULT_SOFTFAIL:
      return SpfResult::kSoftFail;
    case SPF_RESULT_NEUTRAL:
      return SpfResult::kNeutral;
    case SPF_RESULT_NONE:
      return SpfResult::kNone;
    case SPF_RESULT_TEMPERROR:
      return SpfResult::kTempError;
    case SPF_RESULT_PERMERROR:
      return SpfResult::kPermError;
    default:
      break;
  }
  // libspf2 left the result unset: the error code tells what happened.
  if (err == SPF_E_DNS_ERROR) return SpfResult::kTempError;
  if (err == SPF_E_NOT_SPF) return SpfResult::kNone;
  return SpfResult::kPermError;
}

std::string StripIp(std::string_view ip) {
  if (ip.size() > 5 && strncasecmp(ip.data(), "IPv6:", 5) == 0) ip.remove_prefix(5);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return std::string(ip);
}

// True for "a.example"; false for address literals, IP addresses and single labels.
bool IsMultiLabelName(const std::string& d) {
  if (d.front() == '[') return false;
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, d.c_str(), buf) == 1 || inet_pton(AF_INET6, d.c_str(), buf) == 1)
    return false;
  std::string_view v(d);
  if (v.back() == '.') v.remove_suffix(1);
  size_t dot = v.find('.');
  return dot != std::string_view::npos && dot != 0 && v.find("..") == std::string_view::npos;
}

std::string StripBrackets(std::string_view addr) {
  while (!addr.empty() && (addr.front() == '<' || addr.front() == ' ')) addr.remove_prefix(1);
  while (!addr.empty() && (addr.back() == '>' || addr.back() == ' ')) addr.remove_suffix(1);
  return std::string(addr);
}

class LibSpf2Checker : public SpfChecker {
 public:
  LibSpf2Checker(Resolver& resolver, std::string_view receiving_domain) : resolver_(resolver) {
    layer_ = static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t)));
    layer_->destroy = nullptr;  // we own it
    layer_->lookup = Lookup;
    layer_->get_spf = nullptr;
    layer_->get_exp = nullptr;
    layer_->add_cache = nullptr;
    layer_->layer_below = nullptr;
    layer_->name = "threadmill";
    layer_->hook = &resolver_;
    server_ = SPF_server_new_dns(layer_, 0);
    if (server_ != nullptr && !receiving_domain.empty())
      SPF_server_set_rec_dom(server_, std::string(receiving_domain).c_str());
  }
  ~LibSpf2Checker() override {
    if (server_ != nullptr) SPF_server_free(server_);
    std::free(layer_);
  }

  SpfOutcome CheckMailFrom(std::string_view client_ip, std::string_view helo,
                           std::string_view mail_from, DnsDeadline deadline) override {
    std::string from = StripBrackets(mail_from);
    if (from.empty()) {
      SpfOutcome o = Check(client_ip, helo, "postmaster@" + std::string(helo), deadline);
      o.scope = SpfScope::kMailFrom;
      return o;
    }
    return Check(client_ip, helo, from, deadline);
  }

  SpfOutcome CheckHelo(std::string_view client_ip, std::string_view helo,
                       DnsDeadline deadline) override {
    SpfOutcome o = Check(client_ip, helo, "postmaster@" + std::string(helo), deadline);
    o.scope = SpfScope::kHelo;
    return o;
  }

 private:
  SpfOutcome Check(std::string_view client_ip, std::string_view helo, const std::string& from,
                   DnsDeadline deadline) {
    SpfOutcome out;
    out.identity = from;
    size_t at = from.rfind('@');
    out.domain = ascii::ToLower(at == std::string::npos ? from : from.substr(at + 1));
    if (!out.domain.empty() && !IsMultiLabelName(out.domain)) {
      // Section 4.3: an address literal ("[192.0.2.1]" as HELO) or a name that is not a
      // multi-label domain name is "none", without asking DNS.
      out.result = SpfResult::kNone;
      out.reason = "not a domain name: " + out.domain;
      return out;
    }
    if (server_ == nullptr) {
      out.result = SpfResult::kTempError;
      out.reason = "SPF library unavailable";
      return out;
    }
    if (out.domain.empty()) {
      out.result = SpfResult::kNone;
      out.reason = "no domain to check";
      return out;
    }
    SPF_request_t* req = SPF_request_new(server_);
    std::string ip = StripIp(client_ip);
    SPF_errcode_t err = ip.find(':') != std::string::npos
                            ? SPF_request_set_ipv6_str(req, ip.c_str())
                            : SPF_request_set_ipv4_str(req, ip.c_str());
    if (err != SPF_E_SUCCESS) {
      SPF_request_free(req);
      out.result = SpfResult::kPermError;  // cannot happen with a real connection
      out.reason = "bad client address " + ip;
      return out;
    }
    std::string helo_s(helo.empty() ? std::string_view("unknown") : helo);
    SPF_request_set_helo_dom(req, helo_s.c_str());
    SPF_request_set_env_from(req, from.c_str());
    tl_deadline = std::min(deadline, Clock::now() + resolver_.timeout());
    SpfLimits limits;
    tl_limits = &limits;
    SPF_response_t* resp = nullptr;
    err = SPF_request_query_mailfrom(req, &resp);
    tl_limits = nullptr;
    SPF_result_t res = resp != nullptr ? SPF_response_result(resp) : SPF_RESULT_INVALID;
    out.result = Map(res, err);
    if (out.result == SpfResult::kNone && err == SPF_E_NOT_SPF && HadSyntaxError(resp))
      out.result = SpfResult::kPermError;
    if (resp != nullptr) {
      const char* comment = SPF_response_get_header_comment(resp);
      out.reason = comment != nullptr ? comment : "";
      if (err != SPF_E_SUCCESS)
        out.reason += std::string(out.reason.empty() ? "" : "; ") + SPF_strerror(err);
      SPF_response_free(resp);
    }
    SPF_request_free(req);
    if (!limits.violation.empty()) {
      out.result = SpfResult::kPermError;
      out.reason = limits.violation;
    }
    return out;
  }

  Resolver& resolver_;
  SPF_dns_server_t* layer_ = nullptr;
  SPF_server_t* server_ = nullptr;
};

}  // namespace

const char* ToString(SpfResult result) {
  switch (result) {
    case SpfResult::kNone:
      return "none";
    case SpfResult::kNeutral:
      return "neutral";
    case SpfResult::kPass:
      return "pass";
    case SpfResult::kFail:
      return "fail";
    case SpfResult::kSoftFail:
      return "softfail";
    case SpfResult::kTempError:
      return "temperror";
    case SpfResult::kPermError:
      return "permerror";
  }
  return "none";
}

const char* ToString(SpfScope scope) { return scope == SpfScope::kHelo ? "helo" : "mailfrom"; }

std::unique_ptr<SpfChecker> MakeSpfChecker(Resolver& resolver, std::string_view receiving_domain) {
  return std::make_unique<LibSpf2Checker>(resolver, receiving_domain);
}

}  // namespace threadmill::auth
