// arc_verify.cc - ARC chain validation (see arc_verify.h).
#include "auth/arc_verify.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <strings.h>

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace threadmill::auth {
namespace {

// Base64 (white space already removed); false when malformed.
bool DecodeBase64(const std::string& in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  out->assign(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

std::string Get(const TagList& tags, const char* name) {
  auto it = tags.find(name);
  return it == tags.end() ? std::string() : it->second;
}

}  // namespace

const char* ToString(ArcResult result) {
  switch (result) {
    case ArcResult::kNone:
      return "none";
    case ArcResult::kPass:
      return "pass";
    case ArcResult::kFail:
      return "fail";
  }
  return "none";
}

struct ArcVerifier::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

ArcVerifier::ArcVerifier(const ArcOptions& options) : options_(options) {}
ArcVerifier::~ArcVerifier() = default;

void ArcVerifier::Header(std::string_view name, std::string_view value) {
  headers_.push_back({std::string(name), std::string(value)});
}

void ArcVerifier::EndOfHeaders() {
  sets_ = CollectArcSets(headers_, options_.max_instances);
  if (!sets_.any || !sets_.error.empty()) return;
  for (const auto& set : sets_.sets) {
    std::string c = Get(set.ams_tags, "c");
    std::string body_c = c.substr(c.find('/') == std::string::npos ? c.size() : c.find('/') + 1);
    Canon canon = Canon::kSimple;
    if (!body_c.empty() && !ParseCanon(body_c, &canon)) continue;  // fails in VerifyAms
    int64_t limit = -1;
    std::string l = Get(set.ams_tags, "l");
    if (!l.empty()) {
      if (l.size() > 18 || !std::all_of(l.begin(), l.end(), ::isdigit)) continue;
      limit = std::stoll(l);
    }
    auto key = std::make_pair(canon, limit);
    if (!bodies_.count(key)) bodies_[key] = std::make_unique<BodyCanonicalizer>(canon, limit);
  }
}

void ArcVerifier::Body(std::string_view chunk) {
  for (auto& [k, b] : bodies_) b->Update(chunk);
}

bool ArcVerifier::CheckSignature(const TagList& tags, const std::string& data,
                                 const ArcKeyLookup& lookup, std::string* why) {
  if (ascii::ToLower(Get(tags, "a")) != "rsa-sha256") {
    *why = "bad-algorithm";
    return false;
  }
  std::string d = ascii::ToLower(ascii::Trim(Get(tags, "d"))),
              s = ascii::ToLower(ascii::Trim(Get(tags, "s")));
  if (d.empty() || s.empty()) {
    *why = "missing-tag";
    return false;
  }
  std::string sig;
  if (!DecodeBase64(StripWhiteSpace(Get(tags, "b")), &sig)) {
    *why = "bad-signature-encoding";
    return false;
  }
  std::string name = s + "._domainkey." + d;
  auto found = keys_.find(name);
  if (found == keys_.end()) {
    std::shared_ptr<Key> key;
    std::string error;
    if (lookups_ >= options_.max_key_lookups) {
      *why = "key-lookup-cap";
      return false;
    }
    ++lookups_;
    DnsResult r = lookup(name);
    if (r.status == DnsStatus::kTempFail) {
      error = "key-unavailable";
    } else if (r.status != DnsStatus::kAnswer || r.records.empty()) {
      error = "no-key";
    } else {
      auto rec = ParseTagList(r.records.front());
      std::string p, raw;
      if (!rec || (rec->count("k") && ascii::ToLower(Get(*rec, "k")) != "rsa")) {
        error = "bad-key";
      } else if ((p = StripWhiteSpace(Get(*rec, "p"))).empty()) {
        error = "key-revoked";
      } else if (!DecodeBase64(p, &raw)) {
        error = "bad-key";
      } else {
        const auto* ptr = reinterpret_cast<const unsigned char*>(raw.data());
        EVP_PKEY* pkey = d2i_PUBKEY(nullptr, &ptr, static_cast<long>(raw.size()));
        if (!pkey) {
          ptr = reinterpret_cast<const unsigned char*>(raw.data());
          pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &ptr, static_cast<long>(raw.size()));
        }
        if (!pkey || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
          EVP_PKEY_free(pkey);
          error = "bad-key";
        } else if (EVP_PKEY_bits(pkey) < 1024) {
          EVP_PKEY_free(pkey);
          error = "key-too-small";
        } else {
          key = std::make_shared<Key>();
          key->pkey = pkey;
        }
      }
    }
    found = keys_.emplace(name, key).first;
    key_errors_[name] = error;
  }
  if (!found->second) {
    *why = key_errors_[name];
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, found->second->pkey) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) *why = "bad-signature";
  return ok;
}

bool ArcVerifier::VerifyAms(const ArcSet& set, const ArcKeyLookup& lookup, std::string* why) {
  const TagList& t = set.ams_tags;
  std::string c = Get(t, "c");
  size_t slash = c.find('/');
  Canon hc = Canon::kSimple, bc = Canon::kSimple;
  std::string hpart = c.substr(0, slash),
              bpart = slash == std::string::npos ? "" : c.substr(slash + 1);
  if ((!hpart.empty() && !ParseCanon(hpart, &hc)) || (!bpart.empty() && !ParseCanon(bpart, &bc))) {
    *why = "ams-bad-canonicalization";
    return false;
  }
  int64_t limit = -1;
  std::string l = Get(t, "l");
  if (!l.empty()) {
    if (l.size() > 18 || !std::all_of(l.begin(), l.end(), ::isdigit)) {
      *why = "ams-bad-tag";
      return false;
    }
    limit = std::stoll(l);
  }
  auto bkey = std::make_pair(bc, limit);
  if (!body_hashes_.count(bkey)) {
    auto it = bodies_.find(bkey);
    if (it == bodies_.end()) {
      *why = "ams-internal";
      return false;
    }
    body_hashes_[bkey] = it->second->Finish();
  }
  std::string bh;
  if (!DecodeBase64(StripWhiteSpace(Get(t, "bh")), &bh) || bh != body_hashes_[bkey]) {
    *why = "ams-body-hash";
    return false;
  }
  // h= must be present; empty, the AMS covers only itself (as the ARC test suite expects).
  std::string h = Get(t, "h");
  if (!t.count("h")) {
    *why = "ams-bad-tag";
    return false;
  }
  // Header selection: for each name, the next instance from the bottom (RFC 6376 5.4.2).
  std::map<std::string, size_t> used;  // lower name -> instances already taken
  std::string data;
  size_t pos = 0;
  while (pos <= h.size()) {
    size_t colon = h.find(':', pos);
    if (colon == std::string::npos) colon = h.size();
    std::string name = ascii::ToLower(ascii::Trim(std::string_view(h).substr(pos, colon - pos)));
    pos = colon + 1;
    if (name.empty()) continue;
    if (name == "arc-seal") {
      *why = "ams-signs-arc-seal";
      return false;
    }
    size_t skip = used[name]++;
    for (auto it = headers_.rbegin(); it != headers_.rend(); ++it) {
      if (ascii::ToLower(it->name) != name) continue;
      if (skip-- > 0) continue;
      data += CanonHeader(hc, it->name, it->value);
      break;
    }
  }
  std::string self = CanonHeader(hc, set.ams.name, WithoutSignature(set.ams.value));
  self.resize(self.size() - 2);  // the signature field itself without its CRLF
  data += self;
  std::string err;
  if (!CheckSignature(t, data, lookup, &err)) {
    *why = "ams-" + err;
    return false;
  }
  return true;
}

bool ArcVerifier::VerifySeal(size_t index, const ArcKeyLookup& lookup, std::string* why) {
  std::string data;
  for (size_t j = 0; j <= index; ++j) {
    const ArcSet& s = sets_.sets[j];
    data += CanonHeader(Canon::kRelaxed, s.aar.name, s.aar.value);
    data += CanonHeader(Canon::kRelaxed, s.ams.name, s.ams.value);
    if (j < index) data += CanonHeader(Canon::kRelaxed, s.seal.name, s.seal.value);
  }
  const ArcSet& me = sets_.sets[index];
  std::string self = CanonHeader(Canon::kRelaxed, me.seal.name, WithoutSignature(me.seal.value));
  self.resize(self.size() - 2);
  data += self;
  std::string err;
  if (!CheckSignature(me.seal_tags, data, lookup, &err)) {
    *why = "seal-" + err;
    return false;
  }
  return true;
}

ArcOutcome ArcVerifier::Finish(const ArcKeyLookup& lookup) {
  ArcOutcome out;
  if (!sets_.any) return out;
  out.result = ArcResult::kFail;
  if (!sets_.error.empty()) {
    out.reason = sets_.error;
    return out;
  }
  const auto& sets = sets_.sets;
  out.instances = static_cast<int>(sets.size());
  const ArcSet& newest = sets.back();
  out.sealer_domain = ascii::ToLower(ascii::Trim(Get(newest.seal_tags, "d")));
  // Step 2: a chain its last sealer already declared failed stays failed.
  std::string newest_cv = ascii::ToLower(ascii::Trim(Get(newest.seal_tags, "cv")));
  if (newest_cv == "fail") {
    out.reason = "sealed-fail";
    return out;
  }
  // Step 3: cv=none on instance 1 only, cv=pass on every later one; no h= in a seal.
  for (const auto& s : sets) {
    std::string cv = ascii::ToLower(ascii::Trim(Get(s.seal_tags, "cv")));
    if (cv != (s.instance == 1 ? "none" : "pass")) {
      out.reason = "bad-cv";
      return out;
    }
    if (s.seal_tags.count("h")) {
      out.reason = "seal-has-h";
      return out;
    }
  }
  std::string why;
  // Step 4: the newest AMS must validate.
  if (!VerifyAms(newest, lookup, &why)) {
    out.reason = why;
    return out;
  }
  // Step 6: every ARC-Seal, newest first (before oldest-pass: it decides the result).
  for (size_t k = sets.size(); k-- > 0;) {
    if (!VerifySeal(k, lookup, &why)) {
      out.reason = why;
      return out;
    }
  }
  // Step 5: oldest-pass, with the look-ups that are left.
  out.oldest_pass = 0;
  for (size_t k = sets.size() - 1; k-- > 0;) {
    if (!VerifyAms(sets[k], lookup, &why)) {
      out.oldest_pass = sets[k].instance + 1;
      break;
    }
  }
  out.result = ArcResult::kPass;
  for (const auto& s : sets)
    out.hops.push_back(
        {s.instance, ascii::ToLower(ascii::Trim(Get(s.seal_tags, "d"))), s.aar_payload});
  return out;
}

}  // namespace threadmill::auth
