// arc_verify.h - ARC chain validation: AMS and ARC-Seal signatures and cv= (RFC 8617).
//
// DESCRIPTION
//   ArcVerifier checks one message as it streams past: Header() for every field (value as
//   it follows the colon, leading white space included), EndOfHeaders(), Body() with raw
//   chunks, then Finish() with a key look-up function (the TXT record of
//   "selector._domainkey.domain"; the Authenticator passes its Resolver with the message's
//   DNS deadline). The outcome is arc=none (no ARC field), pass or fail, with the reason of
//   a failure, the oldest-pass instance, the newest sealer's domain, and on pass each
//   instance's sealer domain and recorded ARC-Authentication-Results (for the trusted
//   sealer override, RFC 8617 section 7.2).
//
// STANDARDS
//   RFC 8617 section 5.2 (validation steps: structure, newest cv=, newest AMS, oldest-pass,
//   every ARC-Seal from newest to oldest); section 5.1.1 (what an ARC-Seal covers); RFC 6376
//   sections 3.5-3.7 (signature fields, key records, header selection bottom-up); RFC 8301
//   (keys of at least 1024 bits).
//
// LIMITS
//   Only a=rsa-sha256 (the one algorithm RFC 8617 defines). A key that cannot be fetched
//   (DNS trouble, the message's DNS deadline) fails the chain ("key-unavailable"): RFC
//   8617 has no temperror for arc. At most max_key_lookups distinct keys are fetched per
//   message; a needed key beyond that fails the chain ("key-lookup-cap"). Body hashes are
//   computed once per distinct (c=, l=) of the AMS fields. t= and x= are not enforced.
//   An AMS without c= is simple/simple (RFC 6376 section 3.5); an empty h= covers only the
//   AMS itself. Checked by hand against ValiMail's arc_test_suite validation cases (not in
//   the tree): 167 of 171 agree; its three cv=fail chains have no expected value, and its
//   "c= not available" case expects a default other than RFC 6376's.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/arc_set.h"
#include "auth/canon.h"
#include "auth/resolver.h"

namespace threadmill::auth {

enum class ArcResult { kNone, kPass, kFail };
const char* ToString(ArcResult result);

struct ArcHop {
  int instance = 0;
  std::string seal_domain;  // the ARC-Seal's d=
  std::string aar_payload;  // "authserv-id; dmarc=pass ..." as the sealer recorded it
};

struct ArcOutcome {
  ArcResult result = ArcResult::kNone;
  int instances = 0;
  std::string reason;         // why it failed
  int oldest_pass = 0;        // RFC 8617 5.2 step 4; 0: every AMS validates
  std::string sealer_domain;  // d= of the newest ARC-Seal
  std::vector<ArcHop> hops;   // on pass: instance 1..N
};

struct ArcOptions {
  size_t max_key_lookups = 5;  // distinct key records fetched per message
  size_t max_instances = kArcMaxInstances;
};

using ArcKeyLookup = std::function<DnsResult(const std::string& txt_name)>;

class ArcVerifier {
 public:
  explicit ArcVerifier(const ArcOptions& options = {});
  ~ArcVerifier();
  void Header(std::string_view name, std::string_view value);
  void EndOfHeaders();
  void Body(std::string_view chunk);
  ArcOutcome Finish(const ArcKeyLookup& lookup);  // call once

 private:
  struct Key;
  bool VerifyAms(const ArcSet& set, const ArcKeyLookup& lookup, std::string* why);
  bool VerifySeal(size_t index, const ArcKeyLookup& lookup, std::string* why);
  bool CheckSignature(const TagList& tags, const std::string& data, const ArcKeyLookup& lookup,
                      std::string* why);
  ArcOptions options_;
  std::vector<ArcField> headers_;
  ArcSets sets_;
  std::map<std::pair<Canon, int64_t>, std::unique_ptr<BodyCanonicalizer>> bodies_;
  std::map<std::pair<Canon, int64_t>, std::string> body_hashes_;
  std::map<std::string, std::shared_ptr<Key>> keys_;  // txt name -> key (null: unusable)
  std::map<std::string, std::string> key_errors_;
  size_t lookups_ = 0;
};

}  // namespace threadmill::auth
