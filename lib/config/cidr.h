// cidr.h - IPv4/IPv6 networks ("192.0.2.0/24", "::1", "2001:db8::/32") and membership tests.
//
// DESCRIPTION
//   Used for internal_hosts (which clients send outbound mail). IPv4-mapped IPv6 client
//   addresses (::ffff:192.0.2.1, as Postfix reports IPv4 clients on dual-stack sockets) match
//   IPv4 networks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace threadmill::config {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes
};

// Parses "192.0.2.1", "2001:db8::1", "[2001:db8::1]" and "IPv6:2001:db8::1" (Sendmail style).
std::optional<IpAddress> ParseIp(std::string_view text);

class Cidr {
 public:
  // Returns nullopt for anything that is not an address or address/prefix.
  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
  const std::string& text() const { return text_; }

 private:
  IpAddress network_;
  unsigned prefix_ = 0;
  std::string text_;
};

}  // namespace threadmill::config
