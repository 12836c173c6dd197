#include "metrics/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "log/logger.h"

namespace threadmill::metrics {
namespace {

void WriteAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

std::string Response(const char* status, const std::string& type, const std::string& body) {
  return std::string("HTTP/1.0 ") + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

}  // namespace

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  try {
    size_t used = 0;
    *port = std::stoi(address.substr(colon + 1), &used);
    return used == address.size() - colon - 1 && *port >= 0 && *port < 65536;
  } catch (const std::exception&) {
    return false;
  }
}

Result<std::unique_ptr<HttpListener>> HttpListener::Start(const std::string& address,
                                                          Render render) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return MakeError(ErrorCode::kInvalidInput,
                     "metrics listen address \"" + address + "\" is not HOST:PORT");
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof *v6;
  } else {
    return MakeError(ErrorCode::kInvalidInput,
                     "metrics listen host \"" + host + "\" is not an IP address");
  }
  UniqueFd fd(socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return MakeError(ErrorCode::kInternal, std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(fd.get(), 16) != 0) {
    return MakeError(ErrorCode::kPermission,
                     "cannot listen on " + address + ": " + strerror(errno));
  }
  if (port == 0 && getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) == 0) {
    port = ntohs(storage.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  }
  return std::unique_ptr<HttpListener>(new HttpListener(std::move(fd), port, std::move(render)));
}

HttpListener::HttpListener(UniqueFd fd, int port, Render render)
    : fd_(std::move(fd)), port_(port), render_(std::move(render)), thread_([this] { Serve(); }) {}

HttpListener::~HttpListener() {
  stopping_ = true;
  shutdown(fd_.get(), SHUT_RDWR);
  thread_.join();
}

void HttpListener::Serve() {
  while (!stopping_) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, 500) <= 0) continue;
    UniqueFd client(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    Answer(client.get());
  }
}

void HttpListener::Answer(int client) {
  std::string request;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{client, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = recv(client, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  if (request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0) {
    try {
      WriteAll(client, Response("200 OK", "text/plain; version=0.0.4", render_()));
    } catch (const std::exception& e) {
      log::Get().error("metrics: rendering failed: {}", e.what());
      WriteAll(client, Response("500 Internal Server Error", "text/plain", "error\n"));
    }
    return;
  }
  WriteAll(client, Response("404 Not Found", "text/plain", "try GET /metrics\n"));
}

}  // namespace threadmill::metrics
