// canon.h - DKIM header and body canonicalization, as ARC signatures use it.
//
// DESCRIPTION
//   CanonHeader() turns one header field (name, value as it follows the colon) into its
//   "simple" or "relaxed" form, with the trailing CRLF. BodyCanonicalizer streams a body
//   through "simple" or "relaxed" canonicalization into a SHA-256 hash, optionally cut at
//   l= octets of canonical body. libopendkim does the same internally but does not expose
//   it for fields that are not DKIM-Signature (ARC-Message-Signature, ARC-Seal), so this is
//   our own; tests/lib/auth/canon_test.cc checks it against signatures libopendkim makes.
//
// STANDARDS
//   RFC 6376 section 3.4 (canonicalization), section 3.4.4 errata 3192/4926 (an empty body
//   in relaxed canonicalization hashes as the empty string), RFC 8617 section 4.1.
//
// LIMITS
//   Bare LF (in folded header values and in the body) is treated as CRLF, as the milter
//   may hand over either; a bare CR is kept as an ordinary octet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace threadmill::auth {

enum class Canon { kSimple, kRelaxed };

// "simple" / "relaxed" (case-insensitive); false when neither.
bool ParseCanon(std::string_view text, Canon* out);

// The canonical form of one field, ending in CRLF.
std::string CanonHeader(Canon canon, std::string_view name, std::string_view value);

class BodyCanonicalizer {
 public:
  // limit: l= (octets of canonical body hashed); -1 for the whole body.
  BodyCanonicalizer(Canon canon, int64_t limit = -1);
  ~BodyCanonicalizer();
  BodyCanonicalizer(const BodyCanonicalizer&) = delete;
  BodyCanonicalizer& operator=(const BodyCanonicalizer&) = delete;

  void Update(std::string_view chunk);
  // The SHA-256 of the canonical body (32 octets). Call once, after the last Update().
  std::string Finish();
  // Octets of canonical body produced (before the l= cut), after Finish().
  uint64_t canonical_length() const { return produced_; }

 private:
  void Emit(std::string_view bytes);
  void Char(char c);
  Canon canon_;
  int64_t limit_;
  void* ctx_ = nullptr;  // EVP_MD_CTX*
  std::string out_;      // canonical octets not yet hashed
  uint64_t produced_ = 0;
  uint64_t hashed_ = 0;
  size_t pending_empty_ = 0;  // empty lines not yet known to be inside the body
  bool line_content_ = false;
  bool pending_wsp_ = false;  // relaxed: white space seen, not yet written
  bool pending_cr_ = false;
};

}  // namespace threadmill::auth
