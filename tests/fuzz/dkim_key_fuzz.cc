// dkim_key_fuzz.cc - libFuzzer target: the bytes of a DKIM key TXT record (RFC 6376 section
// 3.6.1: v=, h=, k=, n=, p=, s=, t=), as an attacker publishes it at
// sel1._domainkey.dkim.example, handed to DkimVerifier::AddKeyAnswer (lib/auth/dkim) for a
// fixed message with two DKIM-Signatures (rsa-sha256 and ed25519-sha256, d=dkim.example,
// s=sel1, fake b=), so libopendkim parses it (dkim_get_key_dns: the DNS answer; the key
// tag list; the base64 p= and OpenSSL's decoding of the key) and tries the signatures with
// it. The answer is the DNS packet our resolver would hand over (the attacker's server
// chooses how many RRs and where the character-strings break, libunbound passes that on):
// normally one TXT RR whose character-strings are the input cut in pieces of 255 bytes; an
// input starting with 0xff 0xff is several RRs, split at each further 0xff, whose
// character-strings break at each 0xfe (and every 255 bytes). No DNS leaves the machine:
// the resolver forwards to a closed loopback port and the deadline has passed.
//
// Invariants: one result per signature; none passes (the b= values are not signatures).
// Each result's reason and key size is a coverage feature (fuzz_feature.h).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "auth/dkim.h"
#include "auth/resolver.h"
#include "fuzz_check.h"
#include "fuzz_offline_auth.h"
#include "fuzz_feature.h"

using namespace threadmill;

namespace {

constexpr const char* kKeyName = "sel1._domainkey.dkim.example";

const char* const kHeaders[][2] = {
    {"DKIM-Signature",
     " v=1; a=rsa-sha256; c=relaxed/relaxed; d=dkim.example; s=sel1;\r\n"
     "\th=from:to:subject; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=;\r\n"
     "\tb=YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="},
    {"DKIM-Signature",
     " v=1; a=ed25519-sha256; c=simple/relaxed; d=dkim.example; s=sel1;\r\n"
     "\th=from:to:subject; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=;\r\n"
     "\tb=YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="},
    {"From", " Alice Example <alice@dkim.example>"},
    {"To", " bob@example.net"},
    {"Subject", " key test"},
};

void Put16(std::string* out, size_t v) {
  out->push_back(static_cast<char>((v >> 8) & 0xff));
  out->push_back(static_cast<char>(v & 0xff));
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// A DNS response (RFC 1035 section 4.1) for `name` IN TXT holding `txt` (see above).
std::string TxtAnswer(const std::string& name, std::string_view txt) {
  std::vector<std::vector<std::string_view>> rrs;
  if (txt.substr(0, 2) == "\xff\xff") {
    for (std::string_view rr : Split(txt.substr(2), '\xff')) rrs.push_back(Split(rr, '\xfe'));
  } else {
    rrs.push_back({txt});
  }
  std::string p;
  Put16(&p, 0x1234);      // id
  Put16(&p, 0x8180);      // QR, RD, RA, NOERROR
  Put16(&p, 1);           // QDCOUNT
  Put16(&p, rrs.size());  // ANCOUNT
  Put16(&p, 0);
  Put16(&p, 0);
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    p.push_back(static_cast<char>(dot - start));
    p.append(name, start, dot - start);
    start = dot + 1;
  }
  p.push_back('\0');
  Put16(&p, 16);  // TXT
  Put16(&p, 1);   // IN
  for (const auto& strings : rrs) {
    Put16(&p, 0xc00c);
    Put16(&p, 16);
    Put16(&p, 1);
    Put16(&p, 0);
    Put16(&p, 300);  // TTL
    std::string rdata;
    for (std::string_view str : strings) {
      for (size_t i = 0; i < str.size() || i == 0; i += 255) {
        std::string_view piece = str.substr(i, 255);
        rdata.push_back(static_cast<char>(piece.size()));
        rdata.append(piece);
      }
    }
    Put16(&p, rdata.size());
    p += rdata;
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4000) return -1;  // libopendkim's reply buffer (and one TXT RR) is bounded
  std::string_view key = FuzzInput(data, size);
  auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto v = OfflineDkimLibrary()->NewVerifier(auth::DkimOptions{}, "fuzz");
  for (const auto& h : kHeaders) v->Header(h[0], h[1]);
  v->EndOfHeaders(past);
  auth::DnsResult answer;
  answer.status = auth::DnsStatus::kAnswer;
  answer.records = {std::string(key)};
  answer.packet = TxtAnswer(kKeyName, key);
  v->AddKeyAnswer(kKeyName, answer);
  v->Body("Hello Bob,\r\n\r\nthe numbers.\r\n");
  auto results = v->EndOfMessage(past);
  FUZZ_CHECK(results.size() == 2);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    FUZZ_CHECK(r.result != auth::DkimResult::kPass);
    // What libopendkim made of the key, for libFuzzer (fuzz_feature.h).
    FuzzFeature(r.reason, i * 64 + static_cast<uint64_t>(r.result) * 8 + r.key_bits / 512);
  }
  return 0;
}
