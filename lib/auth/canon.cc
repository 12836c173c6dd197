// canon.cc - DKIM header and body canonicalization (see canon.h).
#include "auth/canon.h"

#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>

namespace threadmill::auth {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool ParseCanon(std::string_view text, Canon* out) {
  if (text.size() == 6 && strncasecmp(text.data(), "simple", 6) == 0) {
    *out = Canon::kSimple;
    return true;
  }
  if (text.size() == 7 && strncasecmp(text.data(), "relaxed", 7) == 0) {
    *out = Canon::kRelaxed;
    return true;
  }
  return false;
}

std::string CanonHeader(Canon canon, std::string_view name, std::string_view value) {
  std::string out;
  out.reserve(name.size() + value.size() + 4);
  if (canon == Canon::kSimple) {
    out.append(name);
    out.push_back(':');
    for (size_t i = 0; i < value.size(); ++i) {
      char c = value[i];
      if (c == '\n' && (i == 0 || value[i - 1] != '\r')) out.push_back('\r');
      out.push_back(c);
    }
    out.append("\r\n");
    return out;
  }
  for (char c : name) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  while (!out.empty() && IsWsp(out.back())) out.pop_back();
  out.push_back(':');
  bool wsp = false, started = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold
    if (IsWsp(c)) {
      wsp = true;
      continue;
    }
    if (wsp && started) out.push_back(' ');
    wsp = false;
    started = true;
    out.push_back(c);
  }
  out.append("\r\n");
  return out;
}

BodyCanonicalizer::BodyCanonicalizer(Canon canon, int64_t limit) : canon_(canon), limit_(limit) {
  auto* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  ctx_ = ctx;
}

BodyCanonicalizer::~BodyCanonicalizer() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void BodyCanonicalizer::Emit(std::string_view bytes) { out_.append(bytes); }

void BodyCanonicalizer::Char(char c) {
  if (c == '\n') {
    pending_wsp_ = false;  // relaxed: trailing white space goes
    if (line_content_) {
      Emit("\r\n");
    } else {
      ++pending_empty_;
    }
    line_content_ = false;
    return;
  }
  if (canon_ == Canon::kRelaxed && IsWsp(c)) {
    pending_wsp_ = true;
    return;
  }
  for (; pending_empty_ > 0; --pending_empty_) Emit("\r\n");
  if (pending_wsp_) Emit(" ");
  pending_wsp_ = false;
  line_content_ = true;
  out_.push_back(c);
}

void BodyCanonicalizer::Update(std::string_view chunk) {
  for (char c : chunk) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (c != '\n') Char('\r');  // a bare CR is an ordinary octet
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    Char(c);
  }
  produced_ += out_.size();
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  size_t take = out_.size();
  if (limit_ >= 0) take = std::min<uint64_t>(take, static_cast<uint64_t>(limit_) - hashed_);
  if (take > 0) EVP_DigestUpdate(ctx, out_.data(), take);
  hashed_ += take;
  out_.clear();
}

std::string BodyCanonicalizer::Finish() {
  if (pending_cr_) {
    pending_cr_ = false;
    Char('\r');
  }
  if (line_content_) Emit("\r\n");  // an unterminated last line gets its CRLF
  line_content_ = false;
  pending_wsp_ = false;
  // simple: an empty body is one CRLF; relaxed: the empty string (RFC 6376 errata).
  if (canon_ == Canon::kSimple && produced_ + out_.size() == 0) Emit("\r\n");
  Update({});
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

}  // namespace threadmill::auth
