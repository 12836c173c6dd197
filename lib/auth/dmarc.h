// dmarc.h - DMARC (RFC 7489) evaluation with libopendmarc on threadmill's resolver.
//
// DESCRIPTION
//   DmarcEvaluator fetches the `_dmarc` TXT record itself (From domain first, then the
//   organizational domain from the Public Suffix List), hands it to libopendmarc with
//   opendmarc_policy_store_dmarc, and reads back the parsed tags (p, sp, pct, adkim,
//   aspf). Alignment (section 3.1) and the verdict are computed here with our PSL, because
//   libopendmarc 1.4.2's alignment check was seen to align unrelated names. Its
//   process-global state (its PSL copy) is initialised once per process and every
//   libopendmarc call runs under one mutex, so evaluators may be used from any thread. pct sampling
//   (section 6.6.4) is done here.
//
// STANDARDS
//   RFC 7489 sections 3.1 (alignment), 6.3 (p, sp, pct, adkim, aspf), 6.6.1 (From),
//   6.6.3 (record discovery: records whose v= is not exactly "DMARC1" are discarded;
//   several records at a name end discovery with no DMARC processing - no fallback to the
//   organizational domain), 6.3 grammar ("v = DMARC1" with white space is valid),
//   6.6.4 (pct: a message not sampled for reject is quarantined, for quarantine gets no
//   action), 11.2 (results none/pass/fail/temperror/permerror).
//
// LIMITS / READING OF THE RFC
//   The author comes from mail::ParseAuthor (the parser the handler envelope uses). Only a
//   message with one From field naming one address can pass. Otherwise (several From
//   fields, several addresses, a second <...> address in the field) every author domain is
//   evaluated as if alone (section 6.6.1 "apply DMARC to each domain") and the result is
//   permerror - never pass - whose disposition is the strictest policy of the domains that
//   fail (reject > quarantine > none; header.from names that domain, else the first author
//   domain in message order, never the alphabetically first). If none fails but one is
//   temperror, the result is temperror. More than max_author_domains distinct author
//   domains: permerror with disposition reject without looking further (no legitimate
//   message has that many authors; the DNS work stays bounded). No From: permerror. A DNS
//   failure while fetching the record, or a temperror of an SPF/DKIM identity that would
//   have aligned when DMARC otherwise fails, gives temperror - never fail. A record that
//   does not parse (e.g. p=bogus) is permerror.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/dkim.h"
#include "auth/psl.h"
#include "auth/resolver.h"
#include "auth/spf.h"
#include "common/result.h"

namespace threadmill::auth {

enum class DmarcResult { kNone, kPass, kFail, kTempError, kPermError };
const char* ToString(DmarcResult result);
enum class DmarcPolicy { kNone, kQuarantine, kReject };  // also the disposition
const char* ToString(DmarcPolicy policy);

struct DmarcInput {
  std::vector<std::string> from_headers;  // the value of every From field, as received
  std::string client_ip;
  SpfOutcome spf;  // the MAIL FROM outcome (or HELO for a null reverse-path)
  std::vector<DkimSignatureResult> dkim;
  // `_dmarc` answers fetched beforehand (RecordNames()), by name; others are asked.
  const std::map<std::string, DnsResult>* records = nullptr;
};

struct DmarcOutcome {
  DmarcResult result = DmarcResult::kNone;
  std::string from_domain;    // header.from
  std::string policy_domain;  // where the record was found (From or organizational domain)
  DmarcPolicy policy = DmarcPolicy::kNone;       // published p (or sp for a subdomain)
  DmarcPolicy disposition = DmarcPolicy::kNone;  // what the policy asks for after pct
  int pct = 100;
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string reason;
};

// The author domains DMARC evaluates for these From field values (mail::ParseAuthor):
// lower-cased, distinct, in message order.
std::vector<std::string> AuthorDomains(const std::vector<std::string>& from_headers);

struct DmarcOptions {
  std::string psl_path = "/usr/share/publicsuffix/effective_tld_names.dat";
  // Returns 0..99 for pct sampling; default std::random_device based. Tests pin it.
  std::function<int()> sample;
  size_t max_author_domains = 10;  // see LIMITS
};

class DmarcEvaluator {
 public:
  // `resolver` must outlive the evaluator. Fails when the PSL cannot be read.
  static Result<std::unique_ptr<DmarcEvaluator>> Create(Resolver& resolver, DmarcOptions options);
  // Thread-safe. The `_dmarc` look-ups wait until `deadline` at most; past it they are
  // not sent and the result is temperror.
  DmarcOutcome Evaluate(const DmarcInput& input, DnsDeadline deadline = kNoDnsDeadline) const;
  const PublicSuffixList& psl() const { return psl_; }
  // The `_dmarc` names Evaluate() may ask for these author domains (each domain and its
  // organizational domain), to be fetched early together with other look-ups.
  std::vector<std::string> RecordNames(const std::vector<std::string>& author_domains) const;
  // Relaxed alignment (section 3.1): same organizational domain, or equal.
  bool RelaxedAligned(std::string_view a, std::string_view b) const;

 private:
  DmarcOutcome EvaluateDomain(const std::string& domain, const DmarcInput& input,
                              DnsDeadline deadline) const;
  DmarcEvaluator(Resolver& r, PublicSuffixList psl, DmarcOptions o)
      : resolver_(r), psl_(std::move(psl)), options_(std::move(o)) {}
  Resolver& resolver_;
  PublicSuffixList psl_;
  DmarcOptions options_;
};

}  // namespace threadmill::auth
