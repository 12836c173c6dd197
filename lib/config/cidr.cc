#include "config/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace threadmill::config {

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (text.size() >= 5 && (text.substr(0, 5) == "IPv6:" || text.substr(0, 5) == "ipv6:")) {
    text.remove_prefix(5);
  }
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes.data(), kMapped, 12) == 0) {  // ::ffff:a.b.c.d is IPv4
      std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
      std::memset(ip.bytes.data() + 4, 0, 12);
      return ip;
    }
    ip.v6 = true;
    return ip;
  }
  return std::nullopt;
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  Cidr cidr;
  cidr.text_ = std::string(text);
  std::string_view address = text;
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
      return std::nullopt;
    }
    prefix = value;
  }
  auto ip = ParseIp(address);
  if (!ip) return std::nullopt;
  unsigned max = ip->v6 ? 128 : 32;
  cidr.prefix_ = prefix.value_or(max);
  if (cidr.prefix_ > max) return std::nullopt;
  cidr.network_ = *ip;
  return cidr;
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.v6 != network_.v6) return false;
  unsigned full = prefix_ / 8, rest = prefix_ % 8;
  if (std::memcmp(address.bytes.data(), network_.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address.bytes[full] & mask) == (network_.bytes[full] & mask);
}

}  // namespace threadmill::config
