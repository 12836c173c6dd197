// cookie_header_fuzz.cc - libFuzzer target: the console's Cookie header parser
// (web/cookie_header). Invariants: the value found is a substring of the header that holds
// no ";", and the header's own "name=value" pair appended at the end is found when no
// earlier pair of that name exists.
#include "fuzz_check.h"
#include "web/cookie_header.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view header = FuzzInput(data, size);
  for (std::string_view name : {"tm_session", "tm_login", "a"}) {
    std::string value = threadmill::web::CookieValue(header, name);
    FUZZ_CHECK(value.find(';') == std::string::npos);
    FUZZ_CHECK(value.empty() || header.find(value) != std::string_view::npos);
    if (threadmill::web::CookieValue(header, name).empty()) {
      std::string with(header);
      with += "; ";
      with += name;
      with += "=00ff";
      // Appending our pair finds it, unless an earlier item already carried the name with an
      // empty value (then that empty one wins, as the first match).
      std::string found = threadmill::web::CookieValue(with, name);
      FUZZ_CHECK(found == "00ff" ||
                 (found.empty() && header.find(std::string(name) + "=") != std::string::npos));
    }
  }
  return 0;
}
