// http_listener.h - a minimal HTTP/1.0 endpoint serving GET /metrics (Prometheus scrapes).
//
// DESCRIPTION
//   One thread accepts and answers one request at a time: scrapes are rare and small, so no
//   concurrency is needed. Requests have a 2 s read deadline and an 8 KB cap; anything but
//   GET /metrics gets 404. Meant for a loopback address (the default); put a proxy in front
//   for anything else.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"

namespace threadmill::metrics {

class HttpListener {
 public:
  using Render = std::function<std::string()>;

  // Binds "HOST:PORT" ("127.0.0.1:9466", "[::1]:9466") and starts serving.
  static Result<std::unique_ptr<HttpListener>> Start(const std::string& address, Render render);
  ~HttpListener();  // stops the thread and closes the socket

  int port() const { return port_; }

 private:
  HttpListener(UniqueFd fd, int port, Render render);
  void Serve();
  void Answer(int client);

  UniqueFd fd_;
  int port_;
  Render render_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Splits "HOST:PORT" / "[V6]:PORT"; false when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace threadmill::metrics
