// spf.h - SPF (RFC 7208) checks of the MAIL FROM and HELO identities.
//
// DESCRIPTION
//   SpfChecker is the interface the rest of threadmill uses; MakeSpfChecker() returns the
//   libspf2 implementation, whose DNS layer (a custom SPF_dns_server_t) asks threadmill's
//   Resolver. A whole check shares one deadline (the resolver timeout, or the caller's
//   earlier deadline): the up to 10 DNS-querying terms plus their MX/PTR look-ups cannot
//   add up to more. Any DNS time-out or server failure makes the check temperror, never
//   pass or fail.
//
// STANDARDS
//   RFC 7208 (SPF): sections 2.3 (HELO), 2.4 (null reverse-path uses postmaster@HELO),
//   2.6 (results), 3.1 (only TXT; the obsolete SPF RR type is never queried), 4.3 (an
//   address literal or a name that is not multi-label is "none", not looked up), 4.6.4
//   (at most 10 DNS-querying terms in the whole check and at most 2 void look-ups, else
//   permerror: counted by threadmill in its DNS layer, as libspf2 1.2 counts per record
//   and knows no void limit), 6 (redirect= or exp= twice in a record: permerror).
//
// LIMITS
//   libspf2 gives loopback clients (127.0.0.0/8, ::1) a "pass" without looking anything up.
//   libspf2 1.2 still evaluates the deprecated `ptr` mechanism. Thread-safe: one
//   SPF_server_t shared read-only, one SPF_request_t per check.
#pragma once

#include <memory>

#include <string>
#include <string_view>
#include "auth/resolver.h"

namespace threadmill::auth {

enum class SpfResult { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };
const char* ToString(SpfResult result);  // RFC 8601 names: "pass", "temperror", ...

enum class SpfScope { kMailFrom, kHelo };
const char* ToString(SpfScope scope);  // "mailfrom" / "helo"

struct SpfOutcome {
  SpfResult result = SpfResult::kNone;
  SpfScope scope = SpfScope::kMailFrom;
  std::string domain;    // the checked domain (MAIL FROM domain or HELO name)
  std::string identity;  // the address checked ("user@domain" or "postmaster@helo")
  std::string reason;    // human-readable, for logs and the A-R comment
};

class SpfChecker {
 public:
  virtual ~SpfChecker() = default;
  // client_ip: "192.0.2.1", "2001:db8::1" or "IPv6:2001:db8::1". mail_from: the bare
  // address of MAIL FROM (angle brackets allowed); empty for the null reverse-path, which
  // is checked as postmaster@helo (RFC 7208 section 2.4). No DNS wait goes past
  // `deadline` (nor past the resolver timeout from the start of the check).
  virtual SpfOutcome CheckMailFrom(std::string_view client_ip, std::string_view helo,
                                   std::string_view mail_from,
                                   DnsDeadline deadline = kNoDnsDeadline) = 0;
  virtual SpfOutcome CheckHelo(std::string_view client_ip, std::string_view helo,
                               DnsDeadline deadline = kNoDnsDeadline) = 0;
};

// The libspf2 implementation. `resolver` must outlive the checker. `receiving_domain`
// names this receiver in the result comments ("mx.example.org: domain of ... designates
// ..."; RFC 7208 section 9.1 "receiver") - the authserv-id; empty keeps libspf2's default,
// the machine's host name.
std::unique_ptr<SpfChecker> MakeSpfChecker(Resolver& resolver,
                                           std::string_view receiving_domain = {});

}  // namespace threadmill::auth
