#include "config/cidr.h"

#include <gtest/gtest.h>

namespace threadmill::config {
namespace {

struct Case {
  const char* network;
  const char* address;
  bool contains;
};

TEST(CidrTest, Membership) {
  const Case cases[] = {
      {"127.0.0.0/8", "127.0.0.1", true},
      {"127.0.0.0/8", "127.255.3.4", true},
      {"127.0.0.0/8", "128.0.0.1", false},
      {"192.0.2.0/24", "192.0.2.200", true},
      {"192.0.2.0/25", "192.0.2.200", false},
      {"192.0.2.7", "192.0.2.7", true},
      {"192.0.2.7", "192.0.2.8", false},
      {"0.0.0.0/0", "203.0.113.9", true},
      {"10.1.2.3/13", "10.7.255.255", true},
      {"10.1.2.3/13", "10.8.0.0", false},
      {"::1", "::1", true},
      {"::1", "::2", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/33", "2001:db8:ffff::1", false},
      {"127.0.0.0/8", "::ffff:127.0.0.1", true},       // IPv4-mapped clients match IPv4 networks
      {"127.0.0.0/8", "IPv6:::ffff:127.0.0.1", true},  // Sendmail's spelling
      {"::1", "127.0.0.1", false},
      {"127.0.0.0/8", "", false},
      {"127.0.0.0/8", "localhost", false},
      {"192.0.2.0/24", "[192.0.2.1]", true},
  };
  for (const auto& c : cases) {
    auto cidr = Cidr::Parse(c.network);
    ASSERT_TRUE(cidr) << c.network;
    auto ip = ParseIp(c.address);
    EXPECT_EQ(ip && cidr->Contains(*ip), c.contains) << c.network << " " << c.address;
  }
}

TEST(CidrTest, RejectsInvalid) {
  for (const char* bad : {"", "/8", "127.0.0.1/33", "::1/129", "300.0.0.1", "10.0.0.0/x",
                          "10.0.0.0/", "example.com", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(Cidr::Parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace threadmill::config
