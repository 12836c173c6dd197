// psl.h - organizational domains from the Public Suffix List, for DMARC.
//
// DESCRIPTION
//   PublicSuffixList loads Mozilla's effective_tld_names.dat (Debian package
//   `publicsuffix`: /usr/share/publicsuffix/effective_tld_names.dat) and answers the
//   organizational domain of a name: the public suffix plus one label.
//
// STANDARDS
//   RFC 7489 section 3.2 (organizational domain); the PSL algorithm of
//   https://publicsuffix.org/list/ (normal, wildcard and exception rules; the implicit
//   "*" rule makes an unlisted TLD a public suffix).
//
// LIMITS
//   ASCII (A-label) names only: U-labels in the list are matched byte for byte. Immutable
//   after Load(), so safe for concurrent readers.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "common/result.h"

namespace threadmill::auth {

class PublicSuffixList {
 public:
  static Result<PublicSuffixList> Load(const std::string& path);
  // Lower-cased organizational domain of `domain`; empty when `domain` is itself a
  // public suffix (or empty).
  std::string OrganizationalDomain(std::string_view domain) const;

 private:
  std::unordered_set<std::string> rules_, wildcards_, exceptions_;
};

}  // namespace threadmill::auth
