// dkim.h - streaming DKIM (RFC 6376) verification with libopendkim.
//
// DESCRIPTION
//   DkimLibrary is the process-wide DKIM_LIB (thread-safe; one per process): its key
//   look-ups go through threadmill's Resolver via libopendkim's DNS hooks
//   (dkim_dns_set_query_service/_start/_waitreply/_cancel, plus _init/_close so that
//   dkim_close never frees the resolver). DkimVerifier checks one message as it streams
//   past: Header() for each header field as libmilter hands it over with SMFIP_HDR_LEADSPC
//   (name, and the value exactly as it follows the colon: leading white space included),
//   EndOfHeaders(), Body() with raw body chunks, EndOfMessage(). No second pass over the
//   message.
//   Key look-ups happen in EndOfMessage() (DKIM_LIBFLAGS_DELAYSIGPROC), in an order the
//   caller chooses: SetAligned() names the signing domains that matter for DMARC; their
//   signatures are kept first under max_signatures, AlignedKeyNames() lists their key
//   records for the caller to fetch early (with the other deciding look-ups) and hand back
//   with AddKeyAnswer(); the other keys are fetched last, with whatever time is left.
//
// STANDARDS
//   RFC 6376 (DKIM), RFC 8301 (rsa-sha1 is not accepted: libopendkim still verifies it, we
//   report it as "policy"), RFC 8601 section 2.7.1 (result names).
//
// LIMITS
//   Headers are rebuilt as "Name:" + value, byte for byte (simple header canonicalization
//   needs the caller to pass the leading white space). Bare LF in header folding and body
//   is turned into CRLF. Signatures beyond max_signatures are not verified (result
//   "policy"); key look-ups beyond max_key_lookups are refused (result "policy"). A DNS
//   time-out or server failure while fetching a key is "temperror".
//   A field containing a NUL byte is never handed to libopendkim (its dkim_eoh over-reads
//   such fields): a signature whose h= names that field, or a DKIM-Signature field with a
//   NUL, is "permerror". Nor is a DKIM-Signature whose i= or z= is not
//   dkim-quoted-printable (dkim_qp.h: libopendkim reads past it), nor one whose h= uses
//   every field of the header and then names one more (dkim_hlist.h: libopendkim writes
//   past its array): that signature is "permerror". The header is therefore handed to
//   libopendkim in EndOfHeaders(), not field by field. When libopendkim cannot use the
//   message at all (no From field, several From fields), each DKIM-Signature field seen (up
//   to max_signatures) is reported as "permerror" with d=, s= and a= read from the field.
#pragma once

#include <functional>
#include <map>
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
  std::string algorithm;  // the signature's a= as written ("rsa-sha256", ...), lower-cased
  unsigned key_bits = 0;  // 0 when the key was not loaded
  DkimResult result = DkimResult::kNone;
  std::string reason;  // empty on pass
  // The field was kept from libopendkim as hostile (a NUL byte, i=/z= not
  // dkim-quoted-printable, an h= that overruns the header): result permerror.
  bool withheld = false;
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
  // Which signing domains align with the author (RFC 7489 relaxed alignment is enough:
  // it only orders the work). Call before EndOfHeaders(); default: none.
  void SetAligned(std::function<bool(std::string_view domain)> aligned);
  void Header(std::string_view name, std::string_view value);
  // Signature list and header hashes; no DNS (keys are fetched in EndOfMessage). `deadline`
  // bounds any look-up libopendkim would still make here.
  void EndOfHeaders(DnsDeadline deadline = kNoDnsDeadline);
  // After EndOfHeaders(): the TXT names of the keys of aligned signatures to be verified
  // (each takes one of max_key_lookups), for the caller to fetch early.
  std::vector<std::string> AlignedKeyNames();
  // The answer for a key name from AlignedKeyNames(); EndOfMessage() uses it instead of
  // asking (a kTempFail answer is kept too: the key is temperror, not asked twice).
  void AddKeyAnswer(const std::string& name, DnsResult answer);
  void Body(std::string_view chunk);
  // Verifies; empty vector when the message has no DKIM-Signature. Call once. Key
  // look-ups wait until `deadline` at most; once it has passed, keys not yet fetched are
  // not asked for (their signatures are temperror).
  std::vector<DkimSignatureResult> EndOfMessage(DnsDeadline deadline = kNoDnsDeadline);

  // Internal (libopendkim callbacks).
  size_t max_signatures() const { return options_.max_signatures; }
  bool TakeLookup();
  bool lookup_refused() const { return lookup_refused_; }
  bool IsAligned(std::string_view domain) const { return aligned_ && aligned_(domain); }
  const DnsResult* KeyAnswer(const std::string& lower_name) const;

 private:
  friend class DkimLibrary;
  DkimVerifier(void* dkim, const DkimOptions& options) : dkim_(dkim), options_(options) {}
  void* dkim_ = nullptr;  // DKIM*
  DkimOptions options_;
  size_t lookups_ = 0;
  bool lookup_refused_ = false;
  std::set<std::string> refused_;  // key names not looked up (cap)
  std::function<bool(std::string_view)> aligned_;
  std::map<std::string, DnsResult> key_answers_;  // lower-cased name -> fetched early
  std::vector<std::string> signature_fields_;     // DKIM-Signature values (max_signatures)
  // The header fields for libopendkim, held until EndOfHeaders(): an h= list can only be
  // checked against the whole header (dkim_hlist.h).
  struct PendingField {
    std::string field;  // "Name:value" as libopendkim gets it
    size_t value_at;    // where the value starts in `field`
    bool signature;     // a DKIM-Signature field
  };
  std::vector<PendingField> pending_;
  // Fields never handed to libopendkim (a NUL byte; a DKIM-Signature whose i=/z= would make
  // it read past the value, or whose h= would make it write past its field array): the
  // signatures among them, and lower-cased name -> why a signature whose h= names one
  // cannot verify.
  std::vector<DkimSignatureResult> withheld_signatures_;
  std::map<std::string, std::string> withheld_fields_;
  bool no_signatures_ = false;
  bool failed_ = false;
  bool eoh_failed_ = false;  // libopendkim could not use the message (no siglist)
  std::string error_;
  void HandOverHeader();
  void Withhold(std::string_view value, std::string reason);
};

}  // namespace threadmill::auth
