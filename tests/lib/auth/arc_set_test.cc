// arc_set_test.cc - tag lists, b= removal and ARC set grouping (RFC 8617 section 4).
#include "auth/arc_set.h"

#include <gtest/gtest.h>

namespace threadmill::auth {
namespace {

TEST(auth_ArcSet, TagLists) {
  auto t = ParseTagList(" i=1; a=rsa-sha256;\r\n\tb=AB CD\r\n EF; d = x.example ;");
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)["i"], "1");
  EXPECT_EQ((*t)["d"], "x.example");
  EXPECT_EQ(StripWhiteSpace((*t)["b"]), "ABCDEF");
  EXPECT_FALSE(ParseTagList("i=1; i=2"));  // duplicate tag
  EXPECT_FALSE(ParseTagList("i=1; junk"));
  EXPECT_FALSE(ParseTagList("=1"));
  EXPECT_FALSE(ParseTagList("i=1;; s=x"));  // empty tag-spec (RFC 6376 section 3.2)
  EXPECT_FALSE(ParseTagList("i=1; _=x"));   // tag-name = ALPHA *ALNUMPUNC
  EXPECT_TRUE(ParseTagList("i=1; s=x; \r\n"));
  auto upper = ParseTagList("i=1; S=x");  // case-sensitive: S= is not s=
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->count("s"), 0u);
}

TEST(auth_ArcSet, WithoutSignature) {
  EXPECT_EQ(WithoutSignature(" i=1; b=abc\r\n def; bh=xyz"), " i=1; b=; bh=xyz");
  EXPECT_EQ(WithoutSignature(" i=1; bh=xyz; b=abc"), " i=1; bh=xyz; b=");
  EXPECT_EQ(WithoutSignature(" i=1;\r\n\tb = abc"), " i=1;\r\n\tb =");
  EXPECT_EQ(WithoutSignature(" i=1"), " i=1");
}

TEST(auth_ArcSet, Grouping) {
  struct Case {
    const char* name;
    std::vector<ArcField> fields;
    std::string error;
    size_t sets;
  } cases[] = {
      {"none", {{"From", " a@b"}}, "", 0},
      {"one",
       {{"ARC-Seal", " i=1; cv=none"},
        {"arc-message-signature", " i=1; a=rsa-sha256"},
        {"ARC-Authentication-Results", " i=1; mx.example; dmarc=pass"}},
       "",
       1},
      {"aar without i",
       {{"ARC-Authentication-Results", " mx.example; dmarc=pass"}},
       "aar-no-instance",
       0},
      {"i=0", {{"ARC-Seal", " i=0; cv=none"}}, "bad-instance", 0},
      {"i=51", {{"ARC-Seal", " i=51; cv=none"}}, "too-many-instances", 0},
      {"gap",
       {{"ARC-Seal", " i=2; cv=pass"},
        {"ARC-Message-Signature", " i=2"},
        {"ARC-Authentication-Results", " i=2; x"}},
       "missing-instance",
       0},
      {"duplicate", {{"ARC-Seal", " i=1"}, {"ARC-Seal", " i=1"}}, "duplicate-instance", 0},
      {"bad tags", {{"ARC-Seal", " i=1; nonsense"}}, "bad-tag-list", 0},
  };
  for (const auto& c : cases) {
    auto got = CollectArcSets(c.fields);
    EXPECT_EQ(got.error, c.error) << c.name;
    EXPECT_EQ(got.sets.size(), c.sets) << c.name;
  }
  auto one = CollectArcSets(cases[1].fields);
  EXPECT_EQ(one.sets[0].aar_payload, "mx.example; dmarc=pass");
}

}  // namespace
}  // namespace threadmill::auth
