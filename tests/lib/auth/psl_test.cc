// psl_test.cc - organizational domains from the Public Suffix List.
#include "auth/psl.h"

#include <gtest/gtest.h>

#include <fstream>

#include "dns_fixture.h"

namespace threadmill::auth {
namespace {

TEST(auth_Psl, OrganizationalDomainTable) {
  auto psl = PublicSuffixList::Load(testing::World::Get().psl_path());
  ASSERT_TRUE(psl.ok());
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"example.com", "example.com"},
      {"a.b.example.com", "example.com"},
      {"mail.example.co.uk", "example.co.uk"},
      {"co.uk", ""},
      {"com", ""},
      {"sub.org.example", "org.example"},  // "example" appended for the tests
      {"x.trap.test", "trap.test"},
      {"WWW.Example.COM.", "example.com"},
      {"foo.unlisted-tld", "foo.unlisted-tld"},  // implicit "*" rule
  };
  for (const auto& c : cases) EXPECT_EQ(psl->OrganizationalDomain(c.in), c.want) << c.in;
}

TEST(auth_Psl, WildcardAndExceptionRules) {
  std::string path = testing::World::Get().dir() + "/mini.dat";
  std::ofstream(path) << "// comment\nck\n*.ck\n!www.ck\n";
  auto psl = PublicSuffixList::Load(path);
  ASSERT_TRUE(psl.ok());
  EXPECT_EQ(psl->OrganizationalDomain("a.b.foo.ck"), "b.foo.ck");
  EXPECT_EQ(psl->OrganizationalDomain("foo.ck"), "");
  EXPECT_EQ(psl->OrganizationalDomain("www.ck"), "www.ck");
  EXPECT_EQ(psl->OrganizationalDomain("a.www.ck"), "www.ck");
}

TEST(auth_Psl, MissingFileIsAnError) {
  EXPECT_FALSE(PublicSuffixList::Load("/nonexistent/psl.dat").ok());
}

}  // namespace
}  // namespace threadmill::auth
