// spf_record_fuzz.cc - libFuzzer target: the bytes of SPF TXT records (RFC 7208 sections
// 4.5-4.6 record syntax, 5 mechanisms, 6 modifiers, 7 macros) as an attacker publishes them
// in their own zone, compiled and evaluated by libspf2 (the library lib/auth/spf.cc runs).
// The input is cut at its first two newlines: the first part is the TXT record of
// fuzz.example (the MAIL FROM domain), the second the TXT record of x.fuzz.example
// (reachable by include:, redirect=, exp= or a macro), the third the local part of MAIL
// FROM (the sender's too: macros %{l} and %{s} expand it). The DNS layer is libspf2's own in-memory
// zone (SPF_dns_zone), not lib/auth's resolver (which has no hook to seed answers): a few A, AAAA,
// MX and PTR records make a:, mx:, ptr: and the macros %{p} / %{i} do real work, and
// nothing leaves the machine. Each input is checked for an IPv4 and an IPv6 client, the
// explanation and the Received-SPF header are expanded, and SPF_record_compile() runs on
// the first record directly.
//
// Invariants: libspf2 returns one of its defined results; no crash or leak. Its result,
// reason and error codes are coverage features (fuzz_feature.h).
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_zone.h>
}

#include <string>

#include "fuzz_check.h"
#include "fuzz_feature.h"

namespace {

struct Zone {
  SPF_dns_server_t* dns = nullptr;
  SPF_server_t* server = nullptr;
};

// A fresh zone per input: libspf2's zone layer can only add records.
Zone MakeZone(const std::string& record, const std::string& other) {
  Zone z;
  z.dns = SPF_dns_zone_new(nullptr, "fuzz", 0);
  FUZZ_CHECK(z.dns != nullptr);
  SPF_dns_zone_add_str(z.dns, "fuzz.example", ns_t_txt, NETDB_SUCCESS, record.c_str());
  SPF_dns_zone_add_str(z.dns, "x.fuzz.example", ns_t_txt, NETDB_SUCCESS, other.c_str());
  SPF_dns_zone_add_str(z.dns, "fuzz.example", ns_t_a, NETDB_SUCCESS, "192.0.2.1");
  SPF_dns_zone_add_str(z.dns, "fuzz.example", ns_t_aaaa, NETDB_SUCCESS, "2001:db8::1");
  SPF_dns_zone_add_str(z.dns, "fuzz.example", ns_t_mx, NETDB_SUCCESS, "mx.fuzz.example");
  SPF_dns_zone_add_str(z.dns, "mx.fuzz.example", ns_t_a, NETDB_SUCCESS, "192.0.2.25");
  SPF_dns_zone_add_str(z.dns, "1.2.0.192.in-addr.arpa", ns_t_ptr, NETDB_SUCCESS,
                       "mail.fuzz.example");
  SPF_dns_zone_add_str(z.dns, "mail.fuzz.example", ns_t_a, NETDB_SUCCESS, "192.0.2.1");
  SPF_dns_zone_add_str(z.dns, "nx.fuzz.example", ns_t_any, HOST_NOT_FOUND, nullptr);
  z.server = SPF_server_new_dns(z.dns, 0);
  FUZZ_CHECK(z.server != nullptr);
  SPF_server_set_rec_dom(z.server, "receiver.example");
  return z;
}

void Check(SPF_server_t* server, const char* ip, const std::string& from) {
  SPF_request_t* req = SPF_request_new(server);
  FUZZ_CHECK(req != nullptr);
  if (std::string(ip).find(':') != std::string::npos)
    SPF_request_set_ipv6_str(req, ip);
  else
    SPF_request_set_ipv4_str(req, ip);
  SPF_request_set_helo_dom(req, "mail.fuzz.example");
  SPF_request_set_env_from(req, from.c_str());
  SPF_response_t* resp = nullptr;
  SPF_request_query_mailfrom(req, &resp);
  if (resp != nullptr) {
    SPF_result_t r = SPF_response_result(resp);
    FUZZ_CHECK(r >= SPF_RESULT_INVALID && r <= SPF_RESULT_PERMERROR);
    // What libspf2 answered, for libFuzzer (fuzz_feature.h): result, reason, error codes.
    FuzzFeature("result", static_cast<uint64_t>(r) * 16 + SPF_response_reason(resp));
    const char* comment = SPF_response_get_header_comment(resp);
    (void)SPF_response_get_received_spf(resp);
    const char* smtp = SPF_response_get_smtp_comment(resp);
    const char* exp = SPF_response_get_explanation(resp);
    FuzzFeature("expanded", (comment != nullptr) * 4 + (smtp != nullptr) * 2 + (exp != nullptr));
    for (int i = 0; i < SPF_response_messages(resp); ++i) {
      SPF_error_t* e = SPF_response_message(resp, i);
      if (e != nullptr) FuzzFeature("error", static_cast<uint64_t>(SPF_error_code(e)) * 64 + i);
    }
    SPF_response_free(resp);
  }
  SPF_request_free(req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;  // a TXT record of a UDP answer; libspf2 is quadratic in places
  std::string in(FuzzInput(data, size));
  size_t nl = in.find('\n');
  std::string record = in.substr(0, nl);
  std::string other = nl == std::string::npos ? "v=spf1 -all" : in.substr(nl + 1);
  size_t nl2 = other.find('\n');
  std::string local = nl2 == std::string::npos ? "user.name" : other.substr(nl2 + 1);
  if (nl2 != std::string::npos) other.resize(nl2);
  std::string from = local + "@fuzz.example";
  Zone z = MakeZone(record, other);
  SPF_response_t* resp = SPF_response_new(nullptr);
  SPF_record_t* compiled = nullptr;
  SPF_errcode_t err = SPF_record_compile(z.server, resp, &compiled, record.c_str());
  FuzzFeature("compile", static_cast<uint64_t>(err));
  for (int i = 0; i < SPF_response_messages(resp); ++i) {
    SPF_error_t* e = SPF_response_message(resp, i);
    if (e != nullptr)
      FuzzFeature("compile error", static_cast<uint64_t>(SPF_error_code(e)) * 64 + i);
  }
  if (compiled != nullptr) SPF_record_free(compiled);
  SPF_response_free(resp);
  Check(z.server, "192.0.2.1", from);
  Check(z.server, "2001:db8::1", from);
  SPF_server_free(z.server);
  SPF_dns_free(z.dns);  // SPF_server_new_dns() does not take ownership
  return 0;
}
