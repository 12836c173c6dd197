// excerpt.cc - see excerpt.h.
#include "excerpt.h"

namespace threadmill::handlers::common {

std::string Excerpt(const std::string& s, size_t max) {
  std::string out = s.substr(0, max);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace threadmill::handlers::common
