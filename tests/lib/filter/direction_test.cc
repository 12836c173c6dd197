#include "filter/direction.h"

#include <gtest/gtest.h>

namespace threadmill::filter {
namespace {

TEST(DirectionTest, Table) {
  auto config = config::LoadFromString(
      "[direction]\ninternal_hosts = [\"127.0.0.0/8\", \"::1\", \"192.0.2.0/24\"]\n");
  struct Case {
    const char* addr;
    const char* auth;
    const char* daemon;
    store::Direction want;
    const char* why;
  } cases[] = {
      {"127.0.0.1", "", "", store::Direction::kOutbound, "internal-host"},
      {"::1", "", "", store::Direction::kOutbound, "internal-host"},
      {"::ffff:127.0.0.1", "", "", store::Direction::kOutbound, "internal-host"},
      {"192.0.2.55", "", "", store::Direction::kOutbound, "internal-host"},
      {"198.51.100.7", "", "", store::Direction::kInbound, "external"},
      {"198.51.100.7", "alice", "", store::Direction::kOutbound, "authenticated"},
      {"198.51.100.7", "", "ORIGINATING", store::Direction::kOutbound, "submission"},
      {"198.51.100.7", "", "smtpd", store::Direction::kInbound, "external"},
      {"", "", "", store::Direction::kInbound, "external"},
      {"garbage", "", "", store::Direction::kInbound, "external"},
  };
  for (const auto& c : cases) {
    Envelope envelope;
    envelope.client_addr = c.addr;
    envelope.auth_authen = c.auth;
    envelope.daemon_name = c.daemon;
    auto verdict = ClassifyDirection(envelope, config->direction);
    EXPECT_EQ(verdict.direction, c.want) << c.addr << " " << c.auth << " " << c.daemon;
    EXPECT_STREQ(verdict.why, c.why) << c.addr;
  }
}

TEST(DirectionTest, AuthenticationCanBeIgnored) {
  auto config = config::LoadFromString("[direction]\nauthenticated_is_outbound = false\n");
  Envelope envelope;
  envelope.client_addr = "198.51.100.7";
  envelope.auth_authen = "alice";
  EXPECT_EQ(ClassifyDirection(envelope, config->direction).direction, store::Direction::kInbound);
}

}  // namespace
}  // namespace threadmill::filter
