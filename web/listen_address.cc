#include "web/listen_address.h"

#include "metrics/http_listener.h"

namespace threadmill::web {

bool ParseListenAddress(const std::string& text, ListenAddress* out) {
  *out = ListenAddress{};
  if (text.rfind("unix:", 0) == 0) {
    out->unix_socket = true;
    out->path = text.substr(5);
    return out->path.size() > 1 && out->path.front() == '/';
  }
  return metrics::SplitHostPort(text, &out->host, &out->port);
}

}  // namespace threadmill::web
