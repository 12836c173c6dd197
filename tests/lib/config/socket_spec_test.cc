#include "config/socket_spec.h"

#include <gtest/gtest.h>

namespace threadmill::config {
namespace {

TEST(SocketSpecTest, Accepted) {
  std::string why;
  auto unix_socket = ParseSocketSpec("local:/run/threadmill/tm.sock", &why);
  ASSERT_TRUE(unix_socket) << why;
  EXPECT_EQ(unix_socket->kind, SocketSpec::Kind::kUnix);
  EXPECT_EQ(unix_socket->path, "/run/threadmill/tm.sock");
  EXPECT_EQ(unix_socket->text, "local:/run/threadmill/tm.sock");

  auto spelled_unix = ParseSocketSpec("unix:/tmp/x.sock", &why);
  ASSERT_TRUE(spelled_unix);
  EXPECT_EQ(spelled_unix->text, "local:/tmp/x.sock");

  auto inet = ParseSocketSpec("inet:8891@127.0.0.1", &why);
  ASSERT_TRUE(inet) << why;
  EXPECT_EQ(inet->kind, SocketSpec::Kind::kInet);
  EXPECT_EQ(inet->port, 8891);
  EXPECT_EQ(inet->host, "127.0.0.1");

  auto any = ParseSocketSpec("inet:8891", &why);
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "");

  auto inet6 = ParseSocketSpec("inet6:8891@::1", &why);
  ASSERT_TRUE(inet6);
  EXPECT_EQ(inet6->kind, SocketSpec::Kind::kInet6);
  EXPECT_EQ(inet6->host, "::1");
}

TEST(SocketSpecTest, RejectedWithReason) {
  for (const char* bad :
       {"", "/tmp/sock", "local:relative.sock", "inet:@127.0.0.1", "inet:0@127.0.0.1",
        "inet:70000@127.0.0.1", "inet:abc", "tcp:25@127.0.0.1"}) {
    std::string why;
    EXPECT_FALSE(ParseSocketSpec(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace threadmill::config
