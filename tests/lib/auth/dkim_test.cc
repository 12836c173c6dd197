// dkim_test.cc - DKIM (RFC 6376) verification of messages signed at test time with
// libopendkim (rsa-sha256, relaxed/relaxed) using keys from opendkim-genkey in dnsmasq.
#include "auth/dkim.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "auth/resolver.h"
#include "dns_fixture.h"

namespace threadmill::auth {
namespace {

using namespace std::chrono_literals;
using testing::Message;
using testing::World;

Message BaseMessage(const std::string& from_domain = "dkim.example") {
  Message m;
  m.headers = {{"From", "Alice <alice@" + from_domain + ">"},
               {"To", "bob@rcpt.example"},
               {"Subject", "quarterly numbers"},
               {"Date", "Mon, 1 Jan 2024 10:00:00 +0000"},
               {"Message-ID", "<1@" + from_domain + ">"}};
  m.body = "Hello Bob,\r\n\r\nthe numbers are in.\r\n";
  return m;
}

// BaseMessage signed by key1 (dkim.example), then by key2 (other.example).
Message SignedTwice() {
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m);
  testing::SignInPlace(World::Get().key2(), &m);
  return m;
}

testing::TestKey WithSelector(testing::TestKey k, const std::string& selector,
                              const std::string& identity = "") {
  k.selector = selector;
  k.identity = identity;
  return k;
}

class auth_Dkim : public ::testing::Test {
 protected:
  void SetUp() override { Init(World::Get().Options()); }
  void Init(const ResolverOptions& o) {
    auto r = Resolver::Create(o);
    ASSERT_TRUE(r.ok());
    resolver_ = std::move(r).value();
    auto lib = DkimLibrary::Create(*resolver_);
    ASSERT_TRUE(lib.ok());
    lib_ = std::move(lib).value();
  }
  std::vector<DkimSignatureResult> Verify(const Message& m, DkimOptions opt = {},
                                          size_t chunk = 7) {
    auto v = lib_->NewVerifier(opt, "test");
    for (const auto& [n, val] : m.headers) v->Header(n, m.Value(val));
    v->EndOfHeaders();
    for (size_t i = 0; i < m.body.size(); i += chunk) v->Body(m.body.substr(i, chunk));
    return v->EndOfMessage();
  }
  // SignedTwice verified with `opt`, whose caps leave one of its signatures unchecked: that one
  // is kPolicy, the other passes.
  void ExpectOneOfTwoChecked(const DkimOptions& opt) {
    auto got = Verify(SignedTwice(), opt);
    ASSERT_EQ(got.size(), 2u);
    int pass = 0, policy = 0;
    for (const auto& s : got) {
      pass += s.result == DkimResult::kPass;
      policy += s.result == DkimResult::kPolicy;
    }
    EXPECT_EQ(pass, 1);
    EXPECT_EQ(policy, 1);
  }
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<DkimLibrary> lib_;
};

TEST_F(auth_Dkim, ValidSignaturePasses) {
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m);
  auto got = Verify(m);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, DkimResult::kPass) << got[0].reason;
  EXPECT_EQ(got[0].domain, "dkim.example");
  EXPECT_EQ(got[0].selector, "sel1");
  EXPECT_EQ(got[0].algorithm, "rsa-sha256");
  EXPECT_EQ(got[0].key_bits, 2048u);
}

TEST_F(auth_Dkim, OutcomeTable) {
  const auto& k1 = World::Get().key1();
  struct Case {
    const char* name;
    std::function<void(Message*)> mutate;  // after signing
    testing::TestKey key;
    DkimResult want;
  } cases[] = {
      {"pass", [](Message*) {}, k1, DkimResult::kPass},
      {"tampered body", [](Message* m) { m->body += "P.S. wire the money\r\n"; }, k1,
       DkimResult::kFail},
      {"tampered header", [](Message* m) { m->headers[3].second = "urgent"; }, k1,
       DkimResult::kFail},
      {"revoked key", [](Message*) {}, WithSelector(k1, "revoked"), DkimResult::kPermError},
      {"missing key", [](Message*) {}, WithSelector(k1, "nokey"), DkimResult::kPermError},
      // t=s (RFC 6376 section 3.6.1): i= must be in d= itself, not in a subdomain of it.
      {"t=s, i= at d=", [](Message*) {}, WithSelector(k1, "strict", "alice@dkim.example"),
       DkimResult::kPass},
      {"t=s, no i=", [](Message*) {}, WithSelector(k1, "strict"), DkimResult::kPass},
      {"t=s, i= in a subdomain", [](Message*) {},
       WithSelector(k1, "strict", "alice@mail.dkim.example"), DkimResult::kPermError},
      {"no t=s, i= in a subdomain", [](Message*) {},
       WithSelector(k1, "sel1", "alice@mail.dkim.example"), DkimResult::kPass},
      {"whole-line LF body",
       [](Message* m) {
         std::string lf;
         for (char c : m->body)
           if (c != '\r') lf += c;
         m->body = lf;
       },
       k1, DkimResult::kPass},
      {"folded header from milter",
       [](Message* m) {
         m->headers[3].second = "quarterly\n numbers";  // relaxed: same as unfolded
       },
       k1, DkimResult::kPass},
  };
  for (const auto& c : cases) {
    Message m = BaseMessage();
    testing::SignInPlace(c.key, &m);
    c.mutate(&m);
    auto got = Verify(m);
    ASSERT_EQ(got.size(), 1u) << c.name;
    EXPECT_STREQ(ToString(got[0].result), ToString(c.want)) << c.name << ": " << got[0].reason;
  }
}

TEST_F(auth_Dkim, NoSignatureGivesEmptyList) { EXPECT_TRUE(Verify(BaseMessage()).empty()); }

TEST_F(auth_Dkim, MultipleSignaturesEachReported) {
  auto got = Verify(SignedTwice());
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> domains;
  for (const auto& s : got) {
    EXPECT_EQ(s.result, DkimResult::kPass) << s.domain << " " << s.reason;
    domains.insert(s.domain);
  }
  EXPECT_EQ(domains, (std::set<std::string>{"dkim.example", "other.example"}));
}

TEST_F(auth_Dkim, SignatureCap) { ExpectOneOfTwoChecked(DkimOptions{1, 5}); }

TEST_F(auth_Dkim, KeyLookupCap) { ExpectOneOfTwoChecked(DkimOptions{5, 1}); }

TEST_F(auth_Dkim, StoppedDnsServerIsTempErrorWithinTimeout) {
  auto dns =
      testing::DnsServer::Start(testing::ZoneLines(World::Get().key1(), World::Get().key2()));
  ResolverOptions o;
  o.forwarders = {dns->forwarder()};
  o.use_resolv_conf = false;
  o.timeout = 800ms;
  Init(o);
  dns->Stop();
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m);
  auto start = std::chrono::steady_clock::now();
  auto got = Verify(m);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, DkimResult::kTempError) << got[0].reason;
  EXPECT_LE(elapsed, 800ms + 1000ms);  // slack: a loaded machine wakes threads late
}

// RFC 6376 section 3.4.1: simple header canonicalization sees the bytes after the colon
// exactly, so the verifier must get them exactly (SMFIP_HDR_LEADSPC).
TEST_F(auth_Dkim, SimpleHeaderCanonicalizationSeesTheExactBytes) {
  const char* subjects[] = {" quarterly numbers",           "no space",
                            "\ttab after the colon",        "",
                            "\r\n starts on a folded line", "  two spaces"};
  for (const char* subject : subjects) {
    Message m = BaseMessage();
    m.raw = true;
    for (auto& [n, v] : m.headers) v = n == "Subject" ? subject : " " + v;
    testing::SignInPlace(World::Get().key1(), &m, /*simple=*/true);
    // What libmilter hands over: folding with bare LF.
    Message milter = m;
    for (auto& [n, v] : milter.headers) {
      std::string lf;
      for (char c : v)
        if (c != '\r') lf += c;
      v = lf;
    }
    auto got = Verify(milter);
    ASSERT_EQ(got.size(), 1u) << subject;
    EXPECT_EQ(got[0].result, DkimResult::kPass) << "[" << subject << "] " << got[0].reason;
    // One space more or less is another header under simple canonicalization.
    for (auto& [n, v] : milter.headers)
      if (n == "Subject") v = " " + v;
    got = Verify(milter);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].result, DkimResult::kFail) << "[" << subject << "] with a space added";
  }
}

// A NUL byte in a field never reaches libopendkim (its dkim_eoh over-reads such fields).
TEST_F(auth_Dkim, NulBytesNeverReachLibopendkim) {
  struct Case {
    const char* name;
    std::function<void(Message*)> mutate;  // after signing
    DkimResult want;
  } cases[] = {
      {"NUL in a signed field",
       [](Message* m) { m->headers[4].second = std::string("urgent\0numbers", 14); },
       DkimResult::kPermError},
      {"NUL in the From field",
       [](Message* m) { m->headers[1].second = std::string("Alice <alice@dkim.example>\0", 27); },
       DkimResult::kPermError},
      {"NUL in a field the signature does not cover",
       [](Message* m) {
         m->headers.push_back({"X-Junk", std::string("a\0b", 3)});
       },
       DkimResult::kPass},
      {"NUL in the DKIM-Signature field",
       [](Message* m) { m->headers[0].second += std::string("\0", 1); }, DkimResult::kPermError},
  };
  for (const auto& c : cases) {
    Message m = BaseMessage();
    testing::SignInPlace(World::Get().key1(), &m);
    c.mutate(&m);
    auto got = Verify(m);
    ASSERT_EQ(got.size(), 1u) << c.name;
    EXPECT_STREQ(ToString(got[0].result), ToString(c.want)) << c.name << ": " << got[0].reason;
    EXPECT_EQ(got[0].domain, "dkim.example") << c.name;
  }
}

// An i= or z= that is not dkim-quoted-printable never reaches libopendkim: its decoder reads
// past a value ending in "=" or "=X" (dkim_qp.h). The signature is permerror, reported with
// its d=, s= and a=; a well-formed QP identity still verifies.
TEST_F(auth_Dkim, BrokenQuotedPrintableTagsNeverReachLibopendkim) {
  struct Case {
    const char* appended;  // to the signed DKIM-Signature field, as its last tag
    const char* reason;
  } cases[] = {
      {"; i=alice=", "DKIM-Signature i= is not dkim-quoted-printable"},
      {"; i=alice=4", "DKIM-Signature i= is not dkim-quoted-printable"},
      {"; z=From:a=", "DKIM-Signature z= is not dkim-quoted-printable"},
  };
  for (const auto& c : cases) {
    Message m = BaseMessage();
    testing::SignInPlace(World::Get().key1(), &m);
    ASSERT_EQ(m.headers[0].first, "DKIM-Signature");
    m.headers[0].second += c.appended;
    auto got = Verify(m);
    ASSERT_EQ(got.size(), 1u) << c.appended;
    EXPECT_EQ(got[0].result, DkimResult::kPermError) << c.appended;
    EXPECT_EQ(got[0].reason, c.reason);
    EXPECT_EQ(got[0].domain, "dkim.example");
    EXPECT_EQ(got[0].algorithm, "rsa-sha256");
  }
  Message m = BaseMessage();
  testing::SignInPlace(WithSelector(World::Get().key1(), "sel1", "alice@dkim.example"), &m);
  auto got = Verify(m);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, DkimResult::kPass) << got[0].reason;
}

// Puts `names` in front of the names of the h= tag of the DKIM-Signature value `sig`.
std::string PrependToH(std::string sig, const std::string& names) {
  for (size_t at = sig.find("h="); at != std::string::npos; at = sig.find("h=", at + 1)) {
    if (at == 0 || std::string(" \t\n;").find(sig[at - 1]) != std::string::npos)
      return sig.insert(at + 2, names);
  }
  ADD_FAILURE() << "no h= in " << sig;
  return sig;
}

// Every field's name, in order, joined by ':' (an h= that uses the whole header).
std::string AllNames(const Message& m) {
  std::string out;
  for (const auto& [name, value] : m.headers) out += (out.empty() ? "" : ":") + name;
  return out;
}

const char* const kOverrun = "DKIM-Signature h= names every header field, then more";

// An h= whose names use every field of the header (its own DKIM-Signature included) and
// then name one more never reaches libopendkim: its dkim_canon_selecthdrs would write past
// its array of selected fields (dkim_hlist.h). The signature is permerror, with d=, s=, a=.
TEST_F(auth_Dkim, HeaderListOverrunningTheHeaderNeverReachesLibopendkim) {
  for (const char* name : {"DKIM-Signature", "dkim-signature  "}) {  // obsolete: space before ':'
    Message m = BaseMessage();
    testing::SignInPlace(World::Get().key1(), &m);
    m.headers[0].first = name;
    m.headers[0].second = PrependToH(m.headers[0].second, AllNames(m) + ":subject:");
    auto got = Verify(m);
    ASSERT_EQ(got.size(), 1u) << name;
    EXPECT_EQ(got[0].result, DkimResult::kPermError) << name;
    EXPECT_EQ(got[0].reason, kOverrun) << name;
    EXPECT_TRUE(got[0].withheld) << name;
    EXPECT_EQ(got[0].domain, "dkim.example");
    EXPECT_EQ(got[0].selector, "sel1");
    EXPECT_EQ(got[0].algorithm, "rsa-sha256");
  }
  // One field more (a Received field the MTA added, named by no h=): the same signature
  // is handed to libopendkim, which finds it broken (its h= was changed after signing).
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m);
  m.headers[0].second = PrependToH(m.headers[0].second, AllNames(m) + ":subject:");
  m.headers.insert(m.headers.begin(), {"Received", "from mx.example by mx.rcpt.example"});
  auto got = Verify(m);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, DkimResult::kFail) << got[0].reason;
  EXPECT_FALSE(got[0].withheld);
}

// An h= may name more fields than the header holds (RFC 6376 section 5.4.2: oversigning):
// such a signature still verifies, and the header given to libopendkim is unchanged.
TEST_F(auth_Dkim, OversignedHeaderListStillVerifies) {
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m, false,
                       {"from", "to", "subject", "date", "message-id", "cc", "reply-to"});
  ASSERT_NE(m.headers[0].second.find("reply-to"), std::string::npos) << m.headers[0].second;
  auto got = Verify(m);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].result, DkimResult::kPass) << got[0].reason;
  EXPECT_FALSE(got[0].withheld);
}

// A withheld signature field leaves the header: another signature whose h= then uses all
// of it and names one more is withheld too (checked until none is).
TEST_F(auth_Dkim, WithholdingOneSignatureRechecksTheOthers) {
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key2(), &m);
  testing::SignInPlace(World::Get().key1(), &m);
  ASSERT_EQ(m.headers.size(), 7u);  // two signatures and five fields
  m.headers[0].second = PrependToH(m.headers[0].second, AllNames(m) + ":subject:");
  // Without the first field this one uses the header's six fields, then names subject.
  std::string rest;
  for (size_t i = 1; i < m.headers.size(); ++i) rest += m.headers[i].first + ":";
  m.headers[1].second = PrependToH(m.headers[1].second, rest + "subject:");
  auto got = Verify(m);
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> domains;
  for (const auto& s : got) {
    EXPECT_EQ(s.result, DkimResult::kPermError) << s.domain;
    EXPECT_EQ(s.reason, kOverrun) << s.domain;
    domains.insert(s.domain);
  }
  EXPECT_EQ(domains, (std::set<std::string>{"dkim.example", "other.example"}));
  // Alone, the second one is handed to libopendkim (the first field still counts).
  m.headers[0] = {"DKIM-Signature", testing::Sign(World::Get().key1(), BaseMessage())};
  got = Verify(m);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& s : got) EXPECT_FALSE(s.withheld) << s.domain << ": " << s.reason;
}

// header.a is the signature's a=, also when it failed early (RFC 8601 / OpenDKIM's
// header.a): never libopendkim's unset default, which reads as rsa-sha1.
TEST_F(auth_Dkim, AlgorithmIsTheSignaturesAEvenOnEarlyFailure) {
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  struct Case {
    const char* name;
    std::function<std::string(std::string)> mutate;  // of the DKIM-Signature value
  } cases[] = {
      {"missing key", [&](std::string v) { return replace(v, "s=sel1", "s=nokey"); }},
      {"bad version", [&](std::string v) { return replace(v, "v=1", "v=9"); }},
      {"expired", [&](std::string v) { return replace(v, "; a=", "; x=1000000; a="); }},
      {"bad b=", [&](std::string v) { return replace(v, "b=", "b=AAAA"); }},
  };
  for (const auto& c : cases) {
    Message m = BaseMessage();
    testing::SignInPlace(World::Get().key1(), &m);
    m.headers[0].second = c.mutate(m.headers[0].second);
    auto got = Verify(m);
    ASSERT_EQ(got.size(), 1u) << c.name << ": " << m.headers[0].second;
    EXPECT_NE(got[0].result, DkimResult::kPass) << c.name;
    EXPECT_EQ(got[0].algorithm, "rsa-sha256") << c.name << ": " << got[0].reason;
    EXPECT_EQ(got[0].domain, "dkim.example") << c.name;
  }
}

// Without a usable From libopendkim keeps no signature list: the signatures are still
// reported, as permerror (RFC 8601 section 2.7.1), not dropped.
TEST_F(auth_Dkim, SignaturesAreReportedWhenFromIsUnusable) {
  for (int from_fields : {0, 2}) {
    Message m = BaseMessage();
    testing::SignInPlace(World::Get().key1(), &m);
    testing::SignInPlace(World::Get().key2(), &m);
    if (from_fields == 0) m.headers.erase(m.headers.begin() + 2);  // From
    if (from_fields == 2) m.headers.push_back({"From", "ceo@reject.example"});
    auto got = Verify(m);
    ASSERT_EQ(got.size(), 2u) << from_fields << " From fields";
    std::set<std::string> domains;
    for (const auto& s : got) {
      // Without From libopendkim gives up on the message: permerror. With two it verifies
      // against the bottom one (RFC 6376 section 5.4.2), which was not signed: fail.
      EXPECT_EQ(s.result, from_fields == 0 ? DkimResult::kPermError : DkimResult::kFail)
          << from_fields << " From fields, " << s.domain << ": " << s.reason;
      EXPECT_EQ(s.algorithm, "rsa-sha256");
      EXPECT_FALSE(s.selector.empty());
      domains.insert(s.domain);
    }
    EXPECT_EQ(domains, (std::set<std::string>{"dkim.example", "other.example"}));
  }
}

// Signatures of aligned domains take the max_signatures slots before the others, however
// many come first in the header.
TEST_F(auth_Dkim, AlignedSignaturesAreVerifiedFirst) {
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m);  // the aligned one ends up last
  for (int i = 0; i < 3; ++i) testing::SignInPlace(World::Get().key2(), &m);
  auto v = lib_->NewVerifier(DkimOptions{2, 5}, "test");
  v->SetAligned([](std::string_view d) { return d == "dkim.example"; });
  for (const auto& [n, val] : m.headers) v->Header(n, m.Value(val));
  v->EndOfHeaders();
  EXPECT_EQ(v->AlignedKeyNames(), std::vector<std::string>{"sel1._domainkey.dkim.example"});
  v->Body(m.body);
  auto got = v->EndOfMessage();
  int pass = 0, policy = 0;
  for (const auto& s : got) {
    if (s.domain == "dkim.example") {
      EXPECT_EQ(s.result, DkimResult::kPass) << s.reason;
    }
    pass += s.result == DkimResult::kPass;
    policy += s.result == DkimResult::kPolicy;
  }
  EXPECT_EQ(pass, 2);
  EXPECT_EQ(policy, 2);
}

TEST_F(auth_Dkim, ConcurrentVerifiersShareOneLibrary) {
  Message m = BaseMessage();
  testing::SignInPlace(World::Get().key1(), &m);
  std::atomic<int> pass{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto got = Verify(m);
        if (got.size() == 1 && got[0].result == DkimResult::kPass) ++pass;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(pass.load(), 40);
}

}  // namespace
}  // namespace threadmill::auth
