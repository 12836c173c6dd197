// http_listener.h - the HTTP endpoint serving GET /metrics (Prometheus scrapes), on cpp-httplib.
//
// DESCRIPTION
//   cpp-httplib (Debian libcpp-httplib-dev, also threadmill-web's server) with one worker
//   thread: scrapes are rare and small, so no concurrency is needed. Requests have a 2 s read
//   deadline and an 8 KB body cap; anything but GET /metrics gets 404. Meant for a loopback
//   address (the default); put a proxy in front for anything else. The socket is bound in
//   Start (before the daemon drops privileges).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace httplib {
class Server;
}

namespace threadmill::metrics {

class HttpListener {
 public:
  using Render = std::function<std::string()>;

  // Binds "HOST:PORT" ("127.0.0.1:9466", "[::1]:9466") and starts serving.
  static Result<std::unique_ptr<HttpListener>> Start(const std::string& address, Render render);
  ~HttpListener();  // stops the thread and closes the socket

  int port() const { return port_; }

 private:
  HttpListener(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::thread thread_;
};

// Splits "HOST:PORT" / "[V6]:PORT"; false when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace threadmill::metrics
