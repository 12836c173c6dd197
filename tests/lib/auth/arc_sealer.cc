// arc_sealer.cc - a test-only ARC sealer (see arc_sealer.h).
#include "arc_sealer.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cctype>
#include <map>
#include <stdexcept>

namespace threadmill::auth::testing {
namespace {

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

std::string Sha256(const std::string& in) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::vector<std::string> Lines(const std::string& body) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t e = body.find("\r\n", pos);
    if (e == std::string::npos) {
      lines.push_back(body.substr(pos));
      break;
    }
    lines.push_back(body.substr(pos, e - pos));
    pos = e + 2;
  }
  return lines;
}

std::string CollapseWsp(const std::string& s) {
  std::string out;
  bool wsp = false;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      wsp = true;
      continue;
    }
    if (wsp) out += ' ';
    wsp = false;
    out += c;
  }
  return out;  // trailing white space dropped
}

std::string BodyHash(const std::string& body, bool simple) {
  auto lines = Lines(body);
  if (!simple)
    for (auto& l : lines) l = CollapseWsp(l);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string canon;
  for (const auto& l : lines) canon += l + "\r\n";
  if (simple && canon.empty()) canon = "\r\n";
  return Base64(Sha256(canon));
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string CanonHeader(const std::string& name, const std::string& value, bool simple) {
  if (simple) return name + ":" + value + "\r\n";
  return NaiveRelaxedHeader(name, value);
}

}  // namespace

std::string NaiveRelaxedHeader(const std::string& name, const std::string& value) {
  std::string v;
  for (char c : value)
    if (c != '\r' && c != '\n') v += c;
  v = CollapseWsp(v);
  if (!v.empty() && v[0] == ' ') v.erase(0, 1);
  return Lower(name) + ":" + v + "\r\n";
}

RsaKey::RsaKey(int bits) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1 ||
      EVP_PKEY_keygen(ctx, &pkey) != 1)
    throw std::runtime_error("RSA key generation failed");
  EVP_PKEY_CTX_free(ctx);
  pkey_ = pkey;
}

RsaKey::~RsaKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

std::string RsaKey::KeyRecord() const {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(static_cast<EVP_PKEY*>(pkey_), &der);
  std::string raw(reinterpret_cast<char*>(der), n);
  OPENSSL_free(der);
  return "v=DKIM1; k=rsa; p=" + Base64(raw);
}

std::string RsaKey::Sign(const std::string& data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(pkey_));
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return Base64(sig);
}

void Seal(const RsaKey& key, const SealOptions& opt, ArcMessage* msg) {
  const std::string i = std::to_string(opt.instance);
  const std::string aar = " i=" + i + "; " + opt.aar;
  // AMS: the listed headers, each taken from the bottom up, then the AMS with b= empty.
  std::string ams =
      " i=" + i +
      "; a=rsa-sha256; c=" + std::string(opt.simple ? "simple/simple" : "relaxed/relaxed") +
      "; d=" + opt.domain + "; s=" + opt.selector + "; t=1700000000;\r\n\th=" + opt.signed_headers +
      "; bh=" + BodyHash(msg->body, opt.simple) + "; b=";
  std::string data;
  std::map<std::string, size_t> used;
  size_t pos = 0;
  while (pos <= opt.signed_headers.size()) {
    size_t c = opt.signed_headers.find(':', pos);
    if (c == std::string::npos) c = opt.signed_headers.size();
    std::string name = Lower(opt.signed_headers.substr(pos, c - pos));
    pos = c + 1;
    size_t skip = used[name]++;
    for (auto it = msg->headers.rbegin(); it != msg->headers.rend(); ++it) {
      if (Lower(it->first) != name || skip-- > 0) continue;
      data += CanonHeader(it->first, it->second, opt.simple);
      break;
    }
  }
  std::string self = CanonHeader("ARC-Message-Signature", ams, opt.simple);
  data += self.substr(0, self.size() - 2);
  ams += key.Sign(data);
  // AS: every earlier set (AAR, AMS, AS), then this AAR, AMS and AS with b= empty; relaxed.
  std::map<int, std::map<std::string, std::string>> sets;
  for (const auto& [n, v] : msg->headers) {
    std::string ln = Lower(n);
    if (ln != "arc-seal" && ln != "arc-message-signature" && ln != "arc-authentication-results")
      continue;
    size_t ip = v.find("i=");
    sets[std::stoi(v.substr(ip + 2))][ln] = v;
  }
  std::string seal = " i=" + i + "; a=rsa-sha256; cv=" + opt.cv + "; d=" + opt.domain +
                     "; s=" + opt.selector + "; t=1700000000; b=";
  data.clear();
  for (const auto& [n, fields] : sets) {
    for (const char* name : {"arc-authentication-results", "arc-message-signature", "arc-seal"}) {
      auto it = fields.find(name);
      if (it != fields.end()) data += NaiveRelaxedHeader(name, it->second);
    }
  }
  data += NaiveRelaxedHeader("ARC-Authentication-Results", aar);
  data += NaiveRelaxedHeader("ARC-Message-Signature", ams);
  self = NaiveRelaxedHeader("ARC-Seal", seal);
  data += self.substr(0, self.size() - 2);
  seal += key.Sign(data);
  msg->headers.insert(
      msg->headers.begin(),
      {{"ARC-Seal", seal}, {"ARC-Message-Signature", ams}, {"ARC-Authentication-Results", aar}});
}

}  // namespace threadmill::auth::testing
