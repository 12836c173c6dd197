#include "metrics/http_listener.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <httplib.h>

#include "log/logger.h"

namespace threadmill::metrics {

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
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(1); };
  server->set_read_timeout(2, 0);
  server->set_write_timeout(2, 0);
  server->set_payload_max_length(8192);
  server->set_keep_alive_max_count(1);
  server->Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(render(), "text/plain; version=0.0.4");
    } catch (const std::exception& e) {
      log::Get().error("metrics: rendering failed: {}", e.what());
      res.status = 500;
      res.set_content("error\n", "text/plain");
    }
  });
  server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) res.set_content("try GET /metrics\n", "text/plain");
  });
  // httplib resolves names; only numeric addresses are accepted, as before.
  sockaddr_storage storage{};
  if (inet_pton(AF_INET, host.c_str(), &storage) != 1 &&
      inet_pton(AF_INET6, host.c_str(), &storage) != 1) {
    return MakeError(ErrorCode::kInvalidInput,
                     "metrics listen host \"" + host + "\" is not an IP address");
  }
  if (port == 0) {
    port = server->bind_to_any_port(host);
    if (port <= 0) return MakeError(ErrorCode::kPermission, "cannot listen on " + address);
  } else if (!server->bind_to_port(host, port)) {
    return MakeError(ErrorCode::kPermission, "cannot listen on " + address);
  }
  return std::unique_ptr<HttpListener>(new HttpListener(std::move(server), port));
}

HttpListener::HttpListener(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port), thread_([this] { server_->listen_after_bind(); }) {}

HttpListener::~HttpListener() {
  server_->stop();
  thread_.join();
}

}  // namespace threadmill::metrics
