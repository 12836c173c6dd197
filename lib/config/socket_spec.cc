#include "config/socket_spec.h"

#include <charconv>

namespace threadmill::config {
namespace {

constexpr const char* kForms = "use local:/path, inet:PORT@HOST or inet6:PORT@HOST";

bool ParsePort(std::string_view digits, int* port) {
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *port);
  return ec == std::errc() && end == digits.data() + digits.size() && *port > 0 && *port < 65536;
}

}  // namespace

std::optional<SocketSpec> ParseSocketSpec(std::string_view text, std::string* why) {
  SocketSpec spec;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    *why = "socket \"" + std::string(text) + "\" has no type: " + kForms;
    return std::nullopt;
  }
  std::string_view type = text.substr(0, colon), rest = text.substr(colon + 1);
  if (type == "local" || type == "unix") {
    if (rest.empty() || rest.front() != '/') {
      *why = "socket \"" + std::string(text) + "\" needs an absolute path: " + kForms;
      return std::nullopt;
    }
    spec.kind = SocketSpec::Kind::kUnix;
    spec.path = std::string(rest);
    spec.text = "local:" + spec.path;
    return spec;
  }
  if (type != "inet" && type != "inet6") {
    *why = "socket type \"" + std::string(type) + "\" is unknown: " + kForms;
    return std::nullopt;
  }
  spec.kind = type == "inet" ? SocketSpec::Kind::kInet : SocketSpec::Kind::kInet6;
  auto at = rest.find('@');
  std::string_view port = rest.substr(0, at);
  if (at != std::string_view::npos) spec.host = std::string(rest.substr(at + 1));
  if (!ParsePort(port, &spec.port)) {
    *why = "socket \"" + std::string(text) + "\" has no valid port: " + kForms;
    return std::nullopt;
  }
  spec.text = std::string(text);
  return spec;
}

}  // namespace threadmill::config
