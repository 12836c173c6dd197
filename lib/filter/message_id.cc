#include "filter/message_id.h"

#include <sys/random.h>

#include <ctime>

#include "common/ascii.h"

namespace threadmill::filter {

std::string NewMessageId(std::string_view host) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned char random[10] = {};
  if (getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    // getrandom cannot fail for 10 bytes once the pool is initialised; fall back to the clock.
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    for (size_t i = 0; i < sizeof random; ++i) random[i] ^= (ts.tv_nsec >> (i * 3)) & 0xff;
  }
  std::string id;
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S.", &tm);
  id += stamp;
  for (size_t i = 0; i < 16; ++i) {  // 16 base32 chars = 80 bits
    size_t bit = i * 5;
    unsigned value =
        (random[bit / 8] << 8 | (bit / 8 + 1 < sizeof random ? random[bit / 8 + 1] : 0));
    id += kAlphabet[(value >> (11 - bit % 8)) & 31];
  }
  id += ".threadmill@";
  id += ascii::ToLower(host);
  return id;
}

}  // namespace threadmill::filter
