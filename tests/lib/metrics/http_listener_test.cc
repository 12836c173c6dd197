#include "metrics/http_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace threadmill::metrics {
namespace {

std::string Get(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return "connect failed";
  }
  send(fd, request.data(), request.size(), 0);
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  return response;
}

TEST(HttpListenerTest, ServesMetricsAndRefusesTheRest) {
  auto listener = HttpListener::Start("127.0.0.1:0", [] { return std::string("tm_up 1\n"); });
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  // Port 0 asks the kernel; find the bound port through the listener's socket.
  int port = (*listener)->port();
  ASSERT_GT(port, 0);
  std::string ok = Get(port, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(ok.find("\r\n\r\ntm_up 1\n"), std::string::npos);
  EXPECT_EQ(Get(port, "GET / HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(
      Get(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n").rfind("HTTP/1.1 404", 0),
      0u);
  // HTTP/1.1 with a Host header, as Prometheus sends it.
  EXPECT_NE(
      Get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("tm_up 1"),
      std::string::npos);
}

TEST(HttpListenerTest, BadAddresses) {
  for (const char* bad : {"", "9466", "localhost:9466", "127.0.0.1:", "127.0.0.1:99999"}) {
    EXPECT_FALSE(HttpListener::Start(bad, [] { return std::string(); }).ok()) << bad;
  }
}

}  // namespace
}  // namespace threadmill::metrics
