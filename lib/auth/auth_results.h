// auth_results.h - Authentication-Results header fields (RFC 8601): build and parse.
//
// DESCRIPTION
//   BuildAuthResults() renders Verdicts as the value of our A-R field.
//   ParseAuthResults() reads an existing field: authserv-id, version, and each
//   method=result with its reason, ptype.property=value pairs and the text of its
//   comments. It serves the trusted-upstream mode (VerdictsFromAuthResults) and
//   anti-forgery (ClaimsAuthservId: the milter deletes fields that claim our authserv-id).
//   VerdictsFromAuthResults() merges several fields (OpenDKIM writes one, OpenDMARC two):
//   the first spf and dmarc result, every dkim signature. The DMARC policy is read from
//   policy.dmarc, or else from the comment "(p=reject dis=none)" that OpenDMARC and
//   threadmill write.
//
// STANDARDS
//   RFC 8601 (Authentication-Results), RFC 7489 section 11.1 (dmarc, header.from,
//   policy.dmarc), RFC 7208 section 9.1 (smtp.mailfrom, smtp.helo), RFC 6376 section 7.2
//   (header.d, header.s), RFC 8616 (header.a is not a registered property; we add
//   header.a and header.b like OpenDKIM).
//
// LIMITS
//   The parser is lenient (a field that does not parse still yields its authserv-id when
//   the first token can be read, so forged fields are always found). Values are not
//   unquoted beyond RFC 5322 quoted-string. Upstream verdicts carry no pct: a DMARC fail
//   is given the disposition of the published policy.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/verdicts.h"
#include "common/result.h"

namespace threadmill::auth {

struct AuthResultsMethod {
  std::string method;  // "spf", "dkim", "dmarc", ... lower-cased
  std::string result;  // lower-cased
  std::string reason;
  std::vector<std::pair<std::string, std::string>> properties;  // ("header.d", "x.example")
  std::vector<std::string> comments;  // text inside each top-level (...) of this resinfo
  std::string Property(std::string_view name) const;  // "" when absent
};

struct ParsedAuthResults {
  std::string authserv_id;  // as written (compare case-insensitively)
  int version = 1;
  std::vector<AuthResultsMethod> methods;  // empty for "none"
};

// `value` is the field body (after "Authentication-Results:").
Result<ParsedAuthResults> ParseAuthResults(std::string_view value);

// True when the field names `authserv_id` (case-insensitive), even if the rest is broken.
bool ClaimsAuthservId(std::string_view value, std::string_view authserv_id);

// The field body of our A-R header, e.g.
// "mx.example.org; spf=pass smtp.mailfrom=a@x.example; dkim=pass header.d=x.example ..."
// At most max_dkim_entries dkim results are listed (the first ones: the verified signatures
// come before ignored ones) and every value is cut to 255 bytes, so the field stays small
// whatever the message carries.
std::string BuildAuthResults(const Verdicts& verdicts, std::string_view authserv_id,
                             size_t max_dkim_entries = 10);

// Verdicts reported by a trusted upstream filter; from_upstream is set.
Verdicts VerdictsFromAuthResults(const ParsedAuthResults& parsed);
// The same over several fields, topmost first: the first spf and the first dmarc result,
// every dkim result; upstream_authserv_id lists the distinct authserv-ids, comma-separated.
Verdicts VerdictsFromAuthResults(const std::vector<ParsedAuthResults>& fields);

}  // namespace threadmill::auth
