// authenticator.h - per-message SPF/DKIM/DMARC facade for the milter.
//
// DESCRIPTION
//   Authenticator is created once per process (thread-safe; owns the Resolver, the
//   libspf2 server, the DKIM_LIB and the DMARC evaluator). Begin() starts one message;
//   MessageAuth is then fed in SMTP order by the one thread handling that connection:
//     EnvelopeFrom(addr)           at MAIL FROM (may be empty: null reverse-path)
//     Header(name, value) ...      every header field, as received (value with its
//                                  leading white space)
//     EndOfHeaders()
//     Body(chunk) ...              raw body chunks (CRLF)
//     Finish() -> Verdicts         at end of message
//   Authentication-Results fields that claim our authserv-id are reported by
//   ForgedAuthResults() (1-based indexes among the A-R fields, for smfi_chgheader
//   deletion). With trusted_authserv_ids, the A-R fields from trusted ids provide the
//   verdicts instead of computing them: every such field above the first Received field
//   (added by filters that ran before us, after our MTA wrote its Received), merged - the
//   first spf and dmarc result, every dkim signature (OpenDKIM and OpenDMARC write separate
//   fields). Trusted-looking fields below the first Received came with the message: they
//   are ignored (RFC 8601 section 5).
//
// STANDARDS
//   RFC 7208, RFC 6376, RFC 7489, RFC 8601 (see spf.h, dkim.h, dmarc.h, auth_results.h).
//
// LIMITS
//   All DNS work happens in Finish() and draws on one per-message budget,
//   message_dns_budget (each query also stops at the resolver timeout), so a dead or
//   silent DNS server costs a message at most the budget, not one timeout per look-up.
//   The budget is not first come, first served - the sender must not be able to spend it
//   on what does not decide DMARC. First the deciding look-ups run side by side, each
//   with the whole budget: SPF for MAIL FROM (HELO for the null sender) on its own thread,
//   and in one batch on the resolver the `_dmarc` records of the author domains (and
//   their organizational domains) and the keys of signatures whose d= aligns (relaxed)
//   with an author domain. Those signatures also take the max_signatures and
//   max_key_lookups slots first. Then the keys of the other signatures are fetched with
//   whatever is left; then DMARC is evaluated. Answers the resolver has cached are used
//   even when the budget is spent (resolver.h). ARC keys (arc_verify.h) are fetched after
//   DMARC, with what is left of the budget, under their own max_key_lookups count. SPF's own
//   look-ups (include, a, mx, ...) are the MAIL FROM domain's: a slow SPF record delays only SPF.
//   The Received boundary of the trusted-upstream mode assumes the MTA shows its own
//   Received field to milters (Postfix and Sendmail do).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/arc_verify.h"
#include "auth/auth_results.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/resolver.h"
#include "auth/spf.h"
#include "auth/verdicts.h"
#include "common/result.h"

namespace threadmill::auth {

struct AuthOptions {
  ResolverOptions dns;
  bool spf = true, dkim = true, dmarc = true;
  size_t max_signatures = 5;
  size_t max_key_lookups = 5;
  size_t max_author_domains = 10;  // distinct From domains evaluated (dmarc.h LIMITS)
  std::string psl_path;            // empty: /usr/share/publicsuffix/effective_tld_names.dat
  std::string authserv_id;
  std::vector<std::string> trusted_authserv_ids;
  // ARC (RFC 8617): chains are verified when a message has ARC fields (keys under
  // max_key_lookups, on the message's DNS budget); a DMARC failure is overridden when a
  // sealer listed here recorded dmarc=pass on a valid chain (arc_policy.h).
  bool arc = true;
  std::vector<std::string> arc_trusted_sealers;
  std::function<int()> dmarc_sample;  // tests pin pct sampling; empty = random
  // How long one message may wait for DNS in all (DKIM keys at end of headers, SPF, DKIM
  // and DMARC at end of message together); once spent, the remaining checks are
  // temperror without querying. 0: twice dns.timeout (Create() stores the value it uses).
  std::chrono::milliseconds message_dns_budget{0};
};

class MessageAuth;

class Authenticator {
 public:
  static Result<std::unique_ptr<Authenticator>> Create(const AuthOptions& options);
  ~Authenticator();

  // Thread-safe. client_ip as libmilter's connection address string ("192.0.2.1",
  // "2001:db8::1"); helo as given in HELO/EHLO.
  std::unique_ptr<MessageAuth> Begin(std::string_view client_ip, std::string_view helo,
                                     std::string_view id = {});

  const AuthOptions& options() const { return options_; }
  Resolver& resolver() { return *resolver_; }
  // The Public Suffix List DMARC uses (organizational domains), or null when DMARC is off.
  const PublicSuffixList* psl() const { return dmarc_ ? &dmarc_->psl() : nullptr; }

 private:
  friend class MessageAuth;
  Authenticator() = default;
  AuthOptions options_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<SpfChecker> spf_;
  std::unique_ptr<DkimLibrary> dkim_;
  std::unique_ptr<DmarcEvaluator> dmarc_;
};

class MessageAuth {
 public:
  ~MessageAuth();
  void EnvelopeFrom(std::string_view addr);
  // `value` exactly as it follows the colon (SMFIP_HDR_LEADSPC: leading white space kept;
  // DKIM simple header canonicalization needs it).
  void Header(std::string_view name, std::string_view value);
  void EndOfHeaders();
  void Body(std::string_view chunk);
  Verdicts Finish();  // call once

  const std::vector<int>& ForgedAuthResults() const { return forged_; }

 private:
  friend class Authenticator;
  MessageAuth(Authenticator& a, std::string ip, std::string helo, std::string_view id);
  Authenticator& auth_;
  std::string ip_, helo_, mail_from_;
  std::vector<std::string> from_headers_;
  std::vector<std::string> author_domains_;  // at EndOfHeaders (DMARC on)
  std::unique_ptr<DkimVerifier> dkim_;
  std::unique_ptr<ArcVerifier> arc_;
  int ar_count_ = 0;
  std::vector<int> forged_;
  std::chrono::steady_clock::duration dns_left_;  // what is left of message_dns_budget
  bool seen_received_ = false;
  std::vector<ParsedAuthResults> upstream_;  // trusted A-R fields above the first Received
};

}  // namespace threadmill::auth
