// listen_address.h - "unix:/path" or "HOST:PORT" ([web] listen, --listen).
#pragma once

#include <string>

namespace threadmill::web {

struct ListenAddress {
  bool unix_socket = false;
  std::string path;  // unix socket path
  std::string host;  // "127.0.0.1", "::1" (no brackets)
  int port = 0;      // 0: any free port
};

// False when `text` is neither form.
bool ParseListenAddress(const std::string& text, ListenAddress* out);

}  // namespace threadmill::web
