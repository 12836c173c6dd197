// dkim.h - streaming DKIM (RFC 6376) verification with libopendkim.
//
// DESCRIPTION
//   DkimLibrary is the process-wide DKIM_LIB (thread-safe; one per process): its key
//   look-ups go through threadmill's Resolver via libopendkim's DNS hooks
//   (dkim_dns_set_query_service/_start/_waitreply/_cancel, plus _init/_close so that
//   dkim_close never frees the resolver). DkimVerifier checks one message as it streams
//   past: Header() for each header field as libmilter hands it over (name, value without
//   the leading space), EndOfHeaders(), Body() with raw body chunks, EndOfMessage(). No
//   second pass over the message.
//
// STANDARDS
//   RFC 6376 (DKIM), RFC 8301 (rsa-sha1 is not accepted: libopendkim still verifies it, we
//   report it as "policy"), RFC 8601 section 2.7.1 (result names).
//
// LIMITS
//   Headers are rebuilt as "Name: value" - a field sent without the space after the colon
//   and signed with simple header canonicalization will not verify (OpenDKIM has the same
//   limit without SMFIP_HDR_LEADSPC). Bare LF in header folding and body is turned into
//   CRLF. Signatures beyond max_signatures are not verified (result "policy"); key
//   look-ups beyond max_key_lookups are refused (result "policy"). A DNS time-out or
//   server failure while fetching a key is "temperror".
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/resolver.h"
#include "common/result.h"

namespace threadmill::auth {

enum class DkimResult { kNone, kPass, kFail, kNeutral, kPolicy, kTempError, kPermError };
const char* ToString(DkimResult result);

struct DkimSignatureResult {
  std::string domain;     // d=
  std::string selector;   // s=
  std::string algorithm;  // "rsa-sha256", "ed25519-sha256", "rsa-sha1"
  unsigned key_bits = 0;  // 0 when the key was not loaded
  DkimResult result = DkimResult::kNone;
  std::string reason;  // empty on pass
};

struct DkimOptions {
  size_t max_signatures = 5;   // signatures verified per message
  size_t max_key_lookups = 5;  // DNS key queries per message
};

class DkimVerifier;

class DkimLibrary {
 public:
  // `resolver` must outlive the library.
  static Result<std::unique_ptr<DkimLibrary>> Create(Resolver& resolver);
  ~DkimLibrary();
  DkimLibrary(const DkimLibrary&) = delete;
  DkimLibrary& operator=(const DkimLibrary&) = delete;

  // Thread-safe. `id` names the message in libopendkim's diagnostics (e.g. the queue id).
  std::unique_ptr<DkimVerifier> NewVerifier(const DkimOptions& options, std::string_view id);

 private:
  DkimLibrary() = default;
  void* lib_ = nullptr;  // DKIM_LIB*
  Resolver* resolver_ = nullptr;
};

// One message; used by one thread at a time.
class DkimVerifier {
 public:
  ~DkimVerifier();
  void Header(std::string_view name, std::string_view value);
  // libopendkim fetches the keys here; look-ups wait until `deadline` at most.
  void EndOfHeaders(DnsDeadline deadline = kNoDnsDeadline);
  void Body(std::string_view chunk);
  // Verifies; empty vector when the message has no DKIM-Signature. Call once. Key
  // look-ups wait until `deadline` at most; once it has passed, keys not yet fetched are
  // not asked for (their signatures are temperror).
  std::vector<DkimSignatureResult> EndOfMessage(DnsDeadline deadline = kNoDnsDeadline);

  // Internal (libopendkim callbacks).
  size_t max_signatures() const { return options_.max_signatures; }
  bool TakeLookup();
  bool lookup_refused() const { return lookup_refused_; }

 private:
  friend class DkimLibrary;
  DkimVerifier(void* dkim, const DkimOptions& options) : dkim_(dkim), options_(options) {}
  void* dkim_ = nullptr;  // DKIM*
  DkimOptions options_;
  size_t lookups_ = 0;
  bool lookup_refused_ = false;
  std::set<std::string> refused_;  // key names not looked up (cap)
  bool no_signatures_ = false;
  bool failed_ = false;
  std::string error_;
};

}  // namespace threadmill::auth
