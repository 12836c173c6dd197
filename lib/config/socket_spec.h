// socket_spec.h - milter socket addresses in the Sendmail/OpenDKIM "Socket" syntax.
//
// DESCRIPTION
//   local:/path or unix:/path (unix socket), inet:PORT@HOST or inet:PORT (IPv4, any address),
//   inet6:PORT@HOST. Validated at configuration time so a typo is a start-up error with the
//   accepted forms in the message, not a silent libmilter failure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace threadmill::config {

struct SocketSpec {
  enum class Kind { kUnix, kInet, kInet6 } kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kInet/kInet6; empty = any
  int port = 0;
  std::string text;  // as configured, in libmilter's form (unix: spelled local:)
};

// Returns the parsed spec, or nullopt and an explanation in *why.
std::optional<SocketSpec> ParseSocketSpec(std::string_view text, std::string* why);

}  // namespace threadmill::config
