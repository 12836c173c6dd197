// dkim.cc - see dkim.h.
#include "auth/dkim.h"

#include <arpa/nameser.h>
#include <sys/time.h>

#include <algorithm>
#include <cstring>
#include <set>

#define _Bool bool
extern "C" {
#include <opendkim/dkim.h>
}
#undef _Bool

#include "auth/dkim_hlist.h"
#include "auth/dkim_qp.h"
#include "auth/psl.h"
#include "auth/resolver.h"
#include "auth/tag_list.h"
#include "common/ascii.h"

namespace threadmill::auth {
namespace {

// The verifier whose dkim_eom() runs on this thread: key look-ups count against it.
thread_local DkimVerifier* tl_verifier = nullptr;
thread_local std::set<std::string>* tl_refused = nullptr;
thread_local DnsDeadline tl_deadline = kNoDnsDeadline;

struct KeyQuery {
  int type;
  std::string name;
  unsigned char* buf;
  size_t buflen;
  const DnsResult* known;  // fetched early by the caller (owned by the verifier), or null
};

// --- libopendkim DNS hooks: srv is our Resolver ---
int DnsStart(void* srv, int type, unsigned char* query, unsigned char* buf, size_t buflen,
             void** qh) {
  if (srv == nullptr || query == nullptr || buf == nullptr) return -1;
  std::string name(reinterpret_cast<const char*>(query));
  const DnsResult* known =
      tl_verifier != nullptr ? tl_verifier->KeyAnswer(ascii::ToLower(name)) : nullptr;
  if (known == nullptr && tl_verifier != nullptr && !tl_verifier->TakeLookup()) {
    if (tl_refused != nullptr) tl_refused->insert(ascii::ToLower(name));
    return -1;
  }
  *qh = new KeyQuery{type, std::move(name), buf, buflen, known};
  return 0;
}

int DnsWaitReply(void* srv, void* qh, struct timeval*, size_t* bytes, int* error, int* dnssec) {
  auto* q = static_cast<KeyQuery*>(qh);
  auto* resolver = static_cast<Resolver*>(srv);
  DnsResult r = q->known != nullptr
                    ? *q->known
                    : resolver->Query(q->name, static_cast<uint16_t>(q->type), tl_deadline);
  if (error != nullptr) *error = 0;
  if (r.status == DnsStatus::kTempFail || r.packet.empty() || r.packet.size() > q->buflen)
    return DKIM_DNS_ERROR;
  std::memcpy(q->buf, r.packet.data(), r.packet.size());
  if (bytes != nullptr) *bytes = r.packet.size();
  if (dnssec != nullptr) *dnssec = r.secure ? DKIM_DNSSEC_SECURE : DKIM_DNSSEC_INSECURE;
  return DKIM_DNS_SUCCESS;
}

int DnsCancel(void*, void* qh) {
  delete static_cast<KeyQuery*>(qh);
  return 0;
}

int DnsInit(void**) { return 0; }  // the service is set up front and owned by us
void DnsClose(void*) {}            // never let dkim_close() free our resolver

DKIM_CBSTAT Prescreen(DKIM* dkim, DKIM_SIGINFO** sigs, int nsigs) {
  auto* v = static_cast<DkimVerifier*>(dkim_get_user_context(dkim));
  if (v == nullptr) return DKIM_CBSTAT_CONTINUE;
  // Signatures of aligned domains take the max_signatures slots first, then the others in
  // header order: extra signatures cannot push the one DMARC needs out.
  std::vector<bool> keep(static_cast<size_t>(nsigs), false);
  size_t kept = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < nsigs && kept < v->max_signatures(); ++i) {
      if (keep[i]) continue;
      const unsigned char* d = dkim_sig_getdomain(sigs[i]);
      if (pass == 0 && (d == nullptr || !v->IsAligned(reinterpret_cast<const char*>(d)))) continue;
      keep[i] = true;
      ++kept;
    }
  }
  for (int i = 0; i < nsigs; ++i)
    if (!keep[i]) dkim_sig_ignore(sigs[i]);
  return DKIM_CBSTAT_CONTINUE;
}

// A signature libopendkim could not report, read from its field (RFC 6376 section 3.2
// tag-list): d=, s= and a=; the result is permerror.
DkimSignatureResult FromField(std::string_view value, std::string reason) {
  DkimSignatureResult r;
  r.result = DkimResult::kPermError;
  r.reason = std::move(reason);
  for (const RawTag& tag : SplitTags(value)) {
    std::string_view name = TrimFws(tag.name);
    std::string val;
    for (char c : TrimFws(tag.value))
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\0') val += c;
    if (name == "d") r.domain = ascii::ToLower(val);
    if (name == "s") r.selector = val;
    if (name == "a") r.algorithm = ascii::ToLower(val);
  }
  return r;
}

// libopendkim takes a field for a signature by its name without the spaces before the colon
// ("DKIM-Signature :", the obsolete syntax of RFC 5322 section 4.5); so do we. (A tab there
// makes it refuse the field, as LibraryFieldName() says.)
bool IsDkimSignature(std::string_view name) {
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return ascii::EqualsIgnoreCase(name, "dkim-signature");
}

// Why the signature cannot verify when its h= names a field kept from libopendkim (`withheld`:
// lower-cased name -> reason); "" when it names none.
std::string WithheldSigned(DKIM_SIGINFO* sig, const std::map<std::string, std::string>& withheld) {
  if (withheld.empty()) return "";
  const unsigned char* h =
      dkim_sig_gettagvalue(sig, false, reinterpret_cast<unsigned char*>(const_cast<char*>("h")));
  if (h == nullptr) return "";
  std::string_view list(reinterpret_cast<const char*>(h));
  while (!list.empty()) {
    size_t colon = list.find(':');
    auto found = withheld.find(ascii::ToLower(TrimFws(list.substr(0, colon))));
    if (found != withheld.end()) return found->second;
    list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
  }
  return "";
}

// A key record with t=s forbids an i= domain that is a subdomain of d= (RFC 6376 section
// 3.6.1); libopendkim records the flag but verifies such a signature anyway.
bool IdentityBreaksNoSubdomain(DKIM_SIGINFO* sig, unsigned flags, const std::string& domain) {
  if (!(flags & DKIM_SIGFLAG_NOSUBDOMAIN)) return false;
  const unsigned char* i =
      dkim_sig_gettagvalue(sig, false, reinterpret_cast<unsigned char*>(const_cast<char*>("i")));
  if (i == nullptr) return false;  // i= defaults to @d=
  std::string id = ascii::ToLower(TrimFws(reinterpret_cast<const char*>(i)));
  size_t at = id.rfind('@');
  return at != std::string::npos && id.substr(at + 1) != domain;
}

std::string AlgName(DKIM_SIGINFO* sig) {
  dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
  dkim_sig_getsignalg(sig, &alg);
  switch (alg) {
    case DKIM_SIGN_RSASHA1:
      return "rsa-sha1";
    case DKIM_SIGN_RSASHA256:
      return "rsa-sha256";
    case DKIM_SIGN_ED25519SHA256:
      return "ed25519-sha256";
    default:
      return "unknown";
  }
}

// Builds "Name:value" (value as it follows the colon) with CRLF line ends in folded values.
std::string RebuildHeader(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ':';
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) out += '\r';
    out += value[i];
  }
  return out;
}

DkimSignatureResult Describe(DKIM_SIGINFO* sig, const std::set<std::string>& refused) {
  DkimSignatureResult r;
  const unsigned char* d = dkim_sig_getdomain(sig);
  const unsigned char* s = dkim_sig_getselector(sig);
  r.domain = d ? ascii::ToLower(reinterpret_cast<const char*>(d)) : "";
  r.selector = s ? reinterpret_cast<const char*>(s) : "";
  // The a= tag as the signature states it: libopendkim's parsed value is only set once the
  // signature got far enough (an early failure reads as rsa-sha1).
  const unsigned char* a =
      dkim_sig_gettagvalue(sig, false, reinterpret_cast<unsigned char*>(const_cast<char*>("a")));
  r.algorithm =
      a != nullptr ? ascii::ToLower(TrimFws(reinterpret_cast<const char*>(a))) : AlgName(sig);
  unsigned bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) r.key_bits = bits;
  unsigned flags = dkim_sig_getflags(sig);
  int err = dkim_sig_geterror(sig);
  int bh = dkim_sig_getbh(sig);
  const char* errstr = dkim_sig_geterrorstr(err);
  if (flags & DKIM_SIGFLAG_IGNORE) {
    r.result = DkimResult::kPolicy;
    r.reason = "not verified: signature limit";
    return r;
  }
  if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MATCH) {
    if (IdentityBreaksNoSubdomain(sig, flags, r.domain)) {
      r.result = DkimResult::kPermError;
      r.reason = "key t=s: i= is not in d= itself (RFC 6376 section 3.6.1)";
    } else if (AlgName(sig) == "rsa-sha1") {
      r.result = DkimResult::kPolicy;
      r.reason = "rsa-sha1 not accepted (RFC 8301)";
    } else {
      r.result = DkimResult::kPass;
    }
    return r;
  }
  r.reason = errstr != nullptr ? errstr : "";
  switch (err) {
    case DKIM_SIGERROR_KEYFAIL:
      if (refused.count(ascii::ToLower(r.selector + "._domainkey." + r.domain))) {
        r.result = DkimResult::kPolicy;
        r.reason = "not verified: key look-up limit";
      } else {
        r.result = DkimResult::kTempError;
      }
      return r;
    case DKIM_SIGERROR_KEYTOOSMALL:
      r.result = DkimResult::kPolicy;
      return r;
    case DKIM_SIGERROR_BADSIG:
      r.result = DkimResult::kFail;
      return r;
    case DKIM_SIGERROR_OK:
      if ((flags & DKIM_SIGFLAG_PROCESSED) && bh == DKIM_SIGBH_MISMATCH) {
        r.result = DkimResult::kFail;
        r.reason = "body hash did not verify";
      } else if (flags & DKIM_SIGFLAG_PROCESSED) {
        r.result = DkimResult::kFail;
        r.reason = "signature did not verify";
      } else {
        r.result = DkimResult::kNeutral;
        r.reason = "not processed";
      }
      return r;
    default:
      // Syntax errors in the signature or the key record, a missing or revoked key:
      // nothing a retry can fix (RFC 8601 section 2.7.1 permerror).
      r.result = DkimResult::kPermError;
      return r;
  }
}

}  // namespace

const char* ToString(DkimResult result) {
  switch (result) {
    case DkimResult::kNone:
      return "none";
    case DkimResult::kPass:
      return "pass";
    case DkimResult::kFail:
      return "fail";
    case DkimResult::kNeutral:
      return "neutral";
    case DkimResult::kPolicy:
      return "policy";
    case DkimResult::kTempError:
      return "temperror";
    case DkimResult::kPermError:
      return "permerror";
  }
  return "none";
}

Result<std::unique_ptr<DkimLibrary>> DkimLibrary::Create(Resolver& resolver) {
  std::unique_ptr<DkimLibrary> out(new DkimLibrary());
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  if (lib == nullptr) return MakeError(ErrorCode::kInternal, "dkim_init failed");
  out->lib_ = lib;
  out->resolver_ = &resolver;
  // DELAYSIGPROC: keys are fetched in dkim_eom, after the caller fetched the ones that
  // decide DMARC (see dkim.h).
  unsigned int flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_DELAYSIGPROC;
  dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
  uint64_t secs = static_cast<uint64_t>((resolver.timeout().count() + 999) / 1000);
  dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &secs, sizeof secs);
  dkim_dns_set_init(lib, DnsInit);
  dkim_dns_set_close(lib, DnsClose);
  dkim_dns_set_query_service(lib, &resolver);
  dkim_dns_set_query_start(lib, DnsStart);
  dkim_dns_set_query_waitreply(lib, DnsWaitReply);
  dkim_dns_set_query_cancel(lib, DnsCancel);
  dkim_set_prescreen(lib, Prescreen);
  return out;
}

DkimLibrary::~DkimLibrary() {
  if (lib_ != nullptr) dkim_close(static_cast<DKIM_LIB*>(lib_));
}

std::unique_ptr<DkimVerifier> DkimLibrary::NewVerifier(const DkimOptions& options,
                                                       std::string_view id) {
  DKIM_STAT stat = DKIM_STAT_OK;
  std::string sid(id.empty() ? std::string_view("threadmill") : id);
  DKIM* dkim = dkim_verify(static_cast<DKIM_LIB*>(lib_),
                           reinterpret_cast<const unsigned char*>(sid.c_str()), nullptr, &stat);
  std::unique_ptr<DkimVerifier> v(new DkimVerifier(dkim, options));
  if (dkim == nullptr) {
    v->failed_ = true;
    v->error_ = std::string("dkim_verify: ") + dkim_getresultstr(stat);
  } else {
    dkim_set_user_context(dkim, v.get());
  }
  return v;
}

DkimVerifier::~DkimVerifier() {
  if (dkim_ != nullptr) dkim_free(static_cast<DKIM*>(dkim_));
}

bool DkimVerifier::TakeLookup() {
  if (lookups_ >= options_.max_key_lookups) {
    lookup_refused_ = true;
    return false;
  }
  ++lookups_;
  return true;
}

void DkimVerifier::SetAligned(std::function<bool(std::string_view)> aligned) {
  aligned_ = std::move(aligned);
}

const DnsResult* DkimVerifier::KeyAnswer(const std::string& lower_name) const {
  auto it = key_answers_.find(lower_name);
  return it == key_answers_.end() ? nullptr : &it->second;
}

void DkimVerifier::AddKeyAnswer(const std::string& name, DnsResult answer) {
  key_answers_[ascii::ToLower(name)] = std::move(answer);
}

std::vector<std::string> DkimVerifier::AlignedKeyNames() {
  std::vector<std::string> out;
  if (failed_ || no_signatures_ || eoh_failed_) return out;
  DKIM_SIGINFO** sigs = nullptr;
  int nsigs = 0;
  if (dkim_getsiglist(static_cast<DKIM*>(dkim_), &sigs, &nsigs) != DKIM_STAT_OK) return out;
  for (int i = 0; i < nsigs; ++i) {
    if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) ||
        dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
      continue;
    const unsigned char* d = dkim_sig_getdomain(sigs[i]);
    const unsigned char* s = dkim_sig_getselector(sigs[i]);
    if (d == nullptr || s == nullptr || !IsAligned(reinterpret_cast<const char*>(d))) continue;
    std::string name = ascii::ToLower(std::string(reinterpret_cast<const char*>(s)) +
                                      "._domainkey." + reinterpret_cast<const char*>(d));
    if (key_answers_.count(name) || std::find(out.begin(), out.end(), name) != out.end()) continue;
    if (!TakeLookup()) {
      refused_.insert(name);
      continue;
    }
    out.push_back(std::move(name));
  }
  return out;
}

void DkimVerifier::Withhold(std::string_view value, std::string reason) {
  withheld_fields_.emplace("dkim-signature",
                           "a signed DKIM-Signature field is not usable (syntax)");
  if (withheld_signatures_.size() >= options_.max_signatures) return;
  withheld_signatures_.push_back(FromField(value, std::move(reason)));
  withheld_signatures_.back().withheld = true;
}

void DkimVerifier::Header(std::string_view name, std::string_view value) {
  if (failed_ || no_signatures_) return;
  bool is_signature = IsDkimSignature(name);
  if (name.find('\0') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
    // Never handed to libopendkim: its dkim_eoh reads such a field past its end.
    withheld_fields_.emplace(ascii::ToLower(name.substr(0, name.find('\0'))),
                             "a signed header field contains a NUL byte");
    if (is_signature && withheld_signatures_.size() < options_.max_signatures) {
      withheld_signatures_.push_back(FromField(value, "DKIM-Signature field contains a NUL byte"));
      withheld_signatures_.back().withheld = true;
    }
    return;
  }
  if (is_signature) {
    // Never handed to libopendkim either: its i= decoding reads past such a value (dkim_qp.h).
    std::string_view tag = BadQuotedPrintableTag(value);
    if (!tag.empty()) {
      Withhold(value, "DKIM-Signature " + std::string(tag) + "= is not dkim-quoted-printable");
      return;
    }
  }
  // Held until the end of the header: an h= can only be checked against all of it.
  pending_.push_back({RebuildHeader(name, value), name.size() + 1, is_signature});
}

// Drops the DKIM-Signature fields whose h= would make libopendkim write past its array of
// selected fields (dkim_hlist.h), then hands the rest to libopendkim in their order. Each
// dropped field shrinks the header the others select from: checked again until none is.
void DkimVerifier::HandOverHeader() {
  std::vector<bool> keep(pending_.size(), true);
  // Without a DKIM-Signature field there is no h= to check (most mail): no name counting.
  bool check = std::any_of(pending_.begin(), pending_.end(),
                           [](const PendingField& f) { return f.signature; });
  while (check) {
    check = false;
    std::vector<std::string_view> names;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (!keep[i]) continue;
      if (auto n = LibraryFieldName(pending_[i].field)) names.push_back(*n);
    }
    HeaderNames header = CountFieldNames(names);
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (!keep[i] || !pending_[i].signature) continue;
      std::string_view value = std::string_view(pending_[i].field).substr(pending_[i].value_at);
      if (!HeaderListOverruns(value, header)) continue;
      keep[i] = false;
      check = true;  // the header shrank: the others again
    }
  }
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (!pending_[i].signature) continue;
    std::string_view value = std::string_view(pending_[i].field).substr(pending_[i].value_at);
    if (!keep[i])
      Withhold(value, "DKIM-Signature h= names every header field, then more");
    else if (signature_fields_.size() < options_.max_signatures)
      signature_fields_.emplace_back(value);
  }
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (!keep[i]) continue;
    std::string& f = pending_[i].field;
    // A field dkim_header would refuse is left out here, so that the header it selects
    // from is exactly the one checked above.
    if (!LibraryFieldName(f)) {
      error_ = std::string("dkim_header: ") + dkim_getresultstr(DKIM_STAT_SYNTAX);
      continue;
    }
    DKIM_STAT st = dkim_header(static_cast<DKIM*>(dkim_),
                               reinterpret_cast<unsigned char*>(f.data()), f.size());
    if (st == DKIM_STAT_NORESOURCE) {
      // Not stored: its header is no longer the one checked above; verify nothing.
      eoh_failed_ = true;
      error_ = "message not verifiable: dkim_header: out of memory";
      break;
    }
    if (st != DKIM_STAT_OK) {
      // A malformed field: libopendkim keeps it but not its signature; keep going.
      error_ = std::string("dkim_header: ") + dkim_getresultstr(st);
    }
  }
  pending_.clear();
  pending_.shrink_to_fit();
}

void DkimVerifier::EndOfHeaders(DnsDeadline deadline) {
  if (failed_ || no_signatures_ || eoh_failed_) return;
  HandOverHeader();
  if (eoh_failed_) return;
  // With DELAYSIGPROC libopendkim fetches no key here; should it, the look-up still counts
  // against this message.
  tl_verifier = this;
  tl_refused = &refused_;
  tl_deadline = deadline;
  DKIM_STAT st = dkim_eoh(static_cast<DKIM*>(dkim_));
  tl_verifier = nullptr;
  tl_refused = nullptr;
  tl_deadline = kNoDnsDeadline;
  if (st == DKIM_STAT_NOSIG) {
    no_signatures_ = true;
  } else if (st != DKIM_STAT_OK) {
    // libopendkim cannot use the message (no From, several From, ...): no signature
    // list exists; EndOfMessage() reports the fields seen as permerror.
    eoh_failed_ = true;
    const char* why = dkim_geterror(static_cast<DKIM*>(dkim_));
    error_ = std::string("message not verifiable: ") +
             (why != nullptr && *why != '\0' ? why : dkim_getresultstr(st));
  }
}

void DkimVerifier::Body(std::string_view chunk) {
  if (failed_ || no_signatures_ || eoh_failed_ || chunk.empty()) return;
  std::string copy(chunk);  // libopendkim takes a non-const buffer
  dkim_body(static_cast<DKIM*>(dkim_), reinterpret_cast<unsigned char*>(copy.data()), copy.size());
}

std::vector<DkimSignatureResult> DkimVerifier::EndOfMessage(DnsDeadline deadline) {
  std::vector<DkimSignatureResult> out = withheld_signatures_;
  if (failed_) return out;
  if (eoh_failed_ || (no_signatures_ && !signature_fields_.empty())) {
    // Reported, not dropped (RFC 8601 section 2.7.1 permerror).
    std::string why = eoh_failed_ ? error_ : "DKIM-Signature not usable (syntax)";
    for (const std::string& f : signature_fields_) out.push_back(FromField(f, why));
    return out;
  }
  if (no_signatures_) return out;
  auto* dkim = static_cast<DKIM*>(dkim_);
  tl_verifier = this;
  tl_refused = &refused_;
  tl_deadline = deadline;
  bool testkey = false;
  dkim_eom(dkim, &testkey);
  tl_verifier = nullptr;
  tl_refused = nullptr;
  tl_deadline = kNoDnsDeadline;
  DKIM_SIGINFO** sigs = nullptr;
  int nsigs = 0;
  if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK) return out;
  for (int i = 0; i < nsigs; ++i) {
    DkimSignatureResult r = Describe(sigs[i], refused_);
    if (std::string why = WithheldSigned(sigs[i], withheld_fields_); !why.empty()) {
      r.result = DkimResult::kPermError;
      r.reason = std::move(why);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace threadmill::auth
