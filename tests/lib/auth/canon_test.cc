// canon_test.cc - DKIM canonicalization (RFC 6376 section 3.4), including the section
// 3.4.6 example, against hashes computed here from the expected canonical text.
#include "auth/canon.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace threadmill::auth {
namespace {

std::string Sha256(const std::string& in) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

TEST(auth_Canon, Headers) {
  struct Case {
    Canon canon;
    std::string name, value, want;
  } cases[] = {
      // RFC 6376 section 3.4.6.
      {Canon::kRelaxed, "A", " X", "a:X\r\n"},
      {Canon::kRelaxed, "B ", " Y\t\r\n\tZ  ", "b:Y Z\r\n"},
      {Canon::kSimple, "A", " X", "A: X\r\n"},
      {Canon::kSimple, "B ", " Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  \r\n"},
      // Bare LF folding is CRLF folding.
      {Canon::kSimple, "Subject", " a\n b", "Subject: a\r\n b\r\n"},
      {Canon::kRelaxed, "Subject", " a\n b", "subject:a b\r\n"},
      {Canon::kRelaxed, "X", "", "x:\r\n"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(CanonHeader(c.canon, c.name, c.value), c.want) << c.name << "|" << c.value;
}

TEST(auth_Canon, Bodies) {
  struct Case {
    Canon canon;
    std::string body, want;
    int64_t limit = -1;
  } cases[] = {
      // RFC 6376 section 3.4.6.
      {Canon::kRelaxed, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
      {Canon::kSimple, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n"},
      // Empty bodies: simple is one CRLF, relaxed the empty string.
      {Canon::kSimple, "", "\r\n"},
      {Canon::kRelaxed, "", ""},
      {Canon::kSimple, "\r\n\r\n", "\r\n"},
      {Canon::kRelaxed, "\r\n \r\n", ""},
      // No final CRLF: one is added.
      {Canon::kSimple, "abc", "abc\r\n"},
      {Canon::kRelaxed, "abc  ", "abc\r\n"},
      // Empty lines inside the body stay; white-space-only lines become empty in relaxed.
      {Canon::kRelaxed, "a\r\n \t\r\nb\r\n", "a\r\n\r\nb\r\n"},
      {Canon::kSimple, "a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n"},
      // Bare LF is a line end; a bare CR is an octet.
      {Canon::kSimple, "a\nb\n", "a\r\nb\r\n"},
      {Canon::kSimple, "a\rb\r\n", "a\rb\r\n"},
      {Canon::kRelaxed, "a\r", "a\r\r\n"},
      // l= cuts the canonical body.
      {Canon::kRelaxed, "hello world\r\n", "hello", 5},
      {Canon::kSimple, "", "", 0},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {1u, 2u, 100u}) {
      BodyCanonicalizer b(c.canon, c.limit);
      for (size_t i = 0; i < c.body.size(); i += chunk) b.Update(c.body.substr(i, chunk));
      EXPECT_EQ(b.Finish(), Sha256(c.want)) << "[" << c.body << "] chunk " << chunk;
    }
  }
}

}  // namespace
}  // namespace threadmill::auth
