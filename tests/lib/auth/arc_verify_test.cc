// arc_verify_test.cc - ARC (RFC 8617) chain validation against ARC sets made at test time
// by an independent sealer (arc_sealer.cc: its own canonicalization, OpenSSL RSA-SHA256),
// with keys handed to the verifier by an injected look-up.
#include "auth/arc_verify.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "arc_sealer.h"

namespace threadmill::auth {
namespace {

using testing::ArcMessage;
using testing::RsaKey;
using testing::Seal;
using testing::SealOptions;

const RsaKey& KeyA() {
  static RsaKey k;
  return k;
}
const RsaKey& KeyB() {
  static RsaKey k;
  return k;
}

ArcMessage Base() {
  ArcMessage m;
  m.headers = {{"From", " Alice <alice@author.example>"},
               {"To", " list@lists.example"},
               {"Subject", " quarterly\r\n  numbers"},
               {"Date", " Mon, 1 Jan 2024 10:00:00 +0000"},
               {"Message-ID", " <1@author.example>"}};
  m.body = "Hello list,\r\n\r\nthe  numbers  are in. \r\n\r\n\r\n";
  return m;
}

struct Lookup {
  std::map<std::string, DnsResult> zone;
  int calls = 0;
  Lookup() {
    Add("arc._domainkey.sealer.example", KeyA().KeyRecord());
    Add("arc._domainkey.list.example", KeyB().KeyRecord());
  }
  void Add(const std::string& name, const std::string& record) {
    DnsResult r;
    r.status = DnsStatus::kAnswer;
    r.records = {record};
    zone[name] = r;
  }
  ArcKeyLookup Fn() {
    return [this](const std::string& name) {
      ++calls;
      auto it = zone.find(name);
      if (it != zone.end()) return it->second;
      DnsResult r;
      r.status = DnsStatus::kNxDomain;
      return r;
    };
  }
};

ArcOutcome Verify(const ArcMessage& m, Lookup& lookup, ArcOptions opt = {}, size_t chunk = 5) {
  ArcVerifier v(opt);
  for (const auto& [n, val] : m.headers) v.Header(n, val);
  v.EndOfHeaders();
  for (size_t i = 0; i < m.body.size(); i += chunk) v.Body(m.body.substr(i, chunk));
  return v.Finish(lookup.Fn());
}

SealOptions Hop(int i, const std::string& domain, const std::string& cv) {
  SealOptions o;
  o.instance = i;
  o.domain = domain;
  o.cv = cv;
  o.aar = domain + "; dmarc=pass header.from=author.example";
  return o;
}

// sealer.example seals (i=1), the list adds a subject tag and seals (i=2).
ArcMessage TwoHops() {
  ArcMessage m = Base();
  Seal(KeyA(), Hop(1, "sealer.example", "none"), &m);
  for (auto& [n, v] : m.headers)
    if (n == "Subject") v = " [list] quarterly numbers";
  m.headers.insert(m.headers.begin(), {"List-Id", " <list.lists.example>"});
  Seal(KeyB(), Hop(2, "list.example", "pass"), &m);
  return m;
}

void SetTag(ArcMessage* m, const std::string& field, int instance, const std::string& from,
            const std::string& to) {
  for (auto& [n, v] : m->headers) {
    if (n != field || v.find("i=" + std::to_string(instance) + ";") != 1) continue;
    size_t p = v.find(from);
    ASSERT_NE(p, std::string::npos) << v;
    v.replace(p, from.size(), to);
    return;
  }
  FAIL() << field << " i=" << instance << " not found";
}

void Drop(ArcMessage* m, const std::string& field, int instance) {
  for (auto it = m->headers.begin(); it != m->headers.end(); ++it)
    if (it->first == field && it->second.find("i=" + std::to_string(instance) + ";") == 1) {
      m->headers.erase(it);
      return;
    }
  FAIL() << field << " i=" << instance << " not found";
}

TEST(auth_Arc, NoArcFieldsIsNone) {
  Lookup l;
  auto got = Verify(Base(), l);
  EXPECT_EQ(got.result, ArcResult::kNone);
  EXPECT_EQ(l.calls, 0);
}

TEST(auth_Arc, OneInstancePasses) {
  for (bool simple : {false, true}) {
    ArcMessage m = Base();
    SealOptions o = Hop(1, "sealer.example", "none");
    o.simple = simple;
    Seal(KeyA(), o, &m);
    Lookup l;
    auto got = Verify(m, l);
    EXPECT_EQ(got.result, ArcResult::kPass) << simple << " " << got.reason;
    EXPECT_EQ(got.instances, 1);
    EXPECT_EQ(got.sealer_domain, "sealer.example");
    EXPECT_EQ(got.oldest_pass, 0);
    ASSERT_EQ(got.hops.size(), 1u);
    EXPECT_EQ(got.hops[0].aar_payload, "sealer.example; dmarc=pass header.from=author.example");
    EXPECT_EQ(l.calls, 1);  // one key for the AMS and the seal
  }
}

TEST(auth_Arc, TwoInstancesPassWithOldestPass) {
  ArcMessage m = TwoHops();
  Lookup l;
  auto got = Verify(m, l);
  ASSERT_EQ(got.result, ArcResult::kPass) << got.reason;
  EXPECT_EQ(got.instances, 2);
  EXPECT_EQ(got.sealer_domain, "list.example");
  EXPECT_EQ(got.oldest_pass, 2);  // the subject tag broke AMS 1
  ASSERT_EQ(got.hops.size(), 2u);
  EXPECT_EQ(got.hops[0].seal_domain, "sealer.example");
  EXPECT_EQ(got.hops[1].seal_domain, "list.example");
  EXPECT_EQ(l.calls, 2);
}

TEST(auth_Arc, TwoInstancesUntouchedHaveOldestPassZero) {
  ArcMessage m = Base();
  Seal(KeyA(), Hop(1, "sealer.example", "none"), &m);
  Seal(KeyB(), Hop(2, "list.example", "pass"), &m);
  Lookup l;
  auto got = Verify(m, l);
  ASSERT_EQ(got.result, ArcResult::kPass) << got.reason;
  EXPECT_EQ(got.oldest_pass, 0);
}

TEST(auth_Arc, PhysicalOrderDoesNotMatter) {
  ArcMessage m = TwoHops();
  // Move the three fields of instance 2 below those of instance 1.
  std::vector<std::pair<std::string, std::string>> arc2, rest;
  for (auto& h : m.headers) (h.second.find("i=2;") == 1 ? arc2 : rest).push_back(h);
  rest.insert(rest.end(), arc2.begin(), arc2.end());
  m.headers = rest;
  Lookup l;
  EXPECT_EQ(Verify(m, l).result, ArcResult::kPass);
}

TEST(auth_Arc, BodyIsCanonicalisedWhateverTheChunks) {
  ArcMessage m = TwoHops();
  for (size_t chunk : {1u, 2u, 3u, 64u}) {
    Lookup l;
    EXPECT_EQ(Verify(m, l, {}, chunk).result, ArcResult::kPass) << chunk;
  }
}

TEST(auth_Arc, FailureTable) {
  struct Case {
    const char* name;
    std::function<void(ArcMessage*)> mutate;
    std::string reason;
    ArcOptions options = {};
  };
  const std::vector<Case> cases = {
      {"tampered body", [](ArcMessage* m) { m->body += "PS: buy now\r\n"; }, "ams-body-hash"},
      {"tampered signed header",
       [](ArcMessage* m) { m->headers.back().second = " <2@author.example>"; },
       "ams-bad-signature"},
      {"tampered seal tag", [](ArcMessage* m) { SetTag(m, "ARC-Seal", 2, "t=17", "t=18"); },
       "seal-bad-signature"},
      {"tampered older AAR",
       [](ArcMessage* m) {
         SetTag(m, "ARC-Authentication-Results", 1, "dmarc=pass", "dmarc=fail");
       },
       "seal-bad-signature"},
      {"newest seal says cv=fail",
       [](ArcMessage* m) { Seal(KeyA(), Hop(3, "sealer.example", "fail"), m); }, "sealed-fail"},
      {"cv=none after the first",
       [](ArcMessage* m) { Seal(KeyA(), Hop(3, "sealer.example", "none"), m); }, "bad-cv"},
      {"missing instance 1",
       [](ArcMessage* m) {
         Drop(m, "ARC-Seal", 1);
         Drop(m, "ARC-Message-Signature", 1);
         Drop(m, "ARC-Authentication-Results", 1);
       },
       "missing-instance"},
      {"missing AMS", [](ArcMessage* m) { Drop(m, "ARC-Message-Signature", 1); }, "incomplete-set"},
      {"instances relabelled",
       [](ArcMessage* m) {
         for (auto& [n, v] : m->headers) {
           if (v.find("i=1;") == 1) v.replace(1, 4, "i=X;");
         }
         for (auto& [n, v] : m->headers) {
           if (v.find("i=2;") == 1) v.replace(1, 4, "i=1;");
         }
         for (auto& [n, v] : m->headers) {
           if (v.find("i=X;") == 1) v.replace(1, 4, "i=2;");
         }
       },
       "bad-cv"},
      {"duplicate instance",
       [](ArcMessage* m) { m->headers.insert(m->headers.begin(), m->headers[0]); },
       "duplicate-instance"},
      {"unknown key",
       [](ArcMessage* m) { SetTag(m, "ARC-Message-Signature", 2, "s=arc", "s=gone"); },
       "ams-no-key"},
      {"lookup cap", [](ArcMessage*) {}, "seal-key-lookup-cap", ArcOptions{1, 50}},
  };
  for (const auto& c : cases) {
    ArcMessage m = TwoHops();
    c.mutate(&m);
    Lookup l;
    auto got = Verify(m, l, c.options);
    EXPECT_EQ(got.result, ArcResult::kFail) << c.name;
    EXPECT_EQ(got.reason, c.reason) << c.name;
    EXPECT_TRUE(got.hops.empty()) << c.name;
  }
}

TEST(auth_Arc, KeyTroubleFails) {
  ArcMessage m = Base();
  Seal(KeyA(), Hop(1, "sealer.example", "none"), &m);
  struct Case {
    const char* name;
    DnsResult answer;
    std::string reason;
  };
  DnsResult temp;
  temp.status = DnsStatus::kTempFail;
  DnsResult revoked;
  revoked.status = DnsStatus::kAnswer;
  revoked.records = {"v=DKIM1; k=rsa; p="};
  DnsResult small;
  small.status = DnsStatus::kAnswer;
  small.records = {RsaKey(512).KeyRecord()};
  DnsResult garbage;
  garbage.status = DnsStatus::kAnswer;
  garbage.records = {"v=DKIM1; k=rsa; p=AAAA"};
  for (const auto& c : std::vector<Case>{{"temperror", temp, "ams-key-unavailable"},
                                         {"revoked", revoked, "ams-key-revoked"},
                                         {"512 bits", small, "ams-key-too-small"},
                                         {"garbage", garbage, "ams-bad-key"}}) {
    Lookup l;
    l.zone["arc._domainkey.sealer.example"] = c.answer;
    auto got = Verify(m, l);
    EXPECT_EQ(got.result, ArcResult::kFail) << c.name;
    EXPECT_EQ(got.reason, c.reason) << c.name;
  }
}

TEST(auth_Arc, FiftyInstancesPassFiftyOneFail) {
  ArcMessage m = Base();
  for (int i = 1; i <= 50; ++i)
    Seal(KeyA(), Hop(i, "sealer.example", i == 1 ? "none" : "pass"), &m);
  Lookup l;
  auto got = Verify(m, l);
  EXPECT_EQ(got.result, ArcResult::kPass) << got.reason;
  EXPECT_EQ(got.instances, 50);
  EXPECT_EQ(l.calls, 1);
  Seal(KeyA(), Hop(51, "sealer.example", "pass"), &m);
  Lookup l2;
  got = Verify(m, l2);
  EXPECT_EQ(got.result, ArcResult::kFail);
  EXPECT_EQ(got.reason, "too-many-instances");
  EXPECT_EQ(l2.calls, 0);
}

TEST(auth_Arc, AmsThatSignsArcSealFails) {
  ArcMessage m = Base();
  Seal(KeyA(), Hop(1, "sealer.example", "none"), &m);
  SealOptions o = Hop(2, "list.example", "pass");
  o.signed_headers = "from:subject:arc-seal";
  Seal(KeyB(), o, &m);
  Lookup l;
  auto got = Verify(m, l);
  EXPECT_EQ(got.result, ArcResult::kFail);
  EXPECT_EQ(got.reason, "ams-signs-arc-seal");
}

}  // namespace
}  // namespace threadmill::auth
