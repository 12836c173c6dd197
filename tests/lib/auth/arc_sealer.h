// arc_sealer.h - a test-only ARC sealer (RFC 8617 section 5.1), independent of lib/auth.
//
// DESCRIPTION
//   Seal() adds one ARC set (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal)
//   on top of a message the way a real sealer does: body hash and header hash over its own
//   naive line-based canonicalization (not lib/auth/canon.*, so the verifier is checked
//   against a second implementation), RSA-SHA256 with OpenSSL. Keys are generated per
//   test process; KeyRecord() is the TXT record to publish (or return from a lookup).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace threadmill::auth::testing {

struct ArcMessage {
  std::vector<std::pair<std::string, std::string>> headers;  // top first; value after colon
  std::string body;                                          // CRLF
};

class RsaKey {
 public:
  explicit RsaKey(int bits = 2048);
  ~RsaKey();
  RsaKey(const RsaKey&) = delete;
  RsaKey& operator=(const RsaKey&) = delete;
  std::string KeyRecord() const;                    // "v=DKIM1; k=rsa; p=..."
  std::string Sign(const std::string& data) const;  // base64 RSA-SHA256
 private:
  void* pkey_;
};

struct SealOptions {
  int instance = 1;
  std::string domain = "sealer.example", selector = "arc";
  std::string cv = "none";
  std::string aar = "sealer.example; dmarc=pass header.from=author.example";
  std::string signed_headers = "from:to:subject:date:message-id";
  bool simple = false;  // c=simple/simple for the AMS (relaxed/relaxed otherwise)
};

void Seal(const RsaKey& key, const SealOptions& opt, ArcMessage* msg);

std::string NaiveRelaxedHeader(const std::string& name, const std::string& value);

}  // namespace threadmill::auth::testing
