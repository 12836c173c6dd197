// cookie_header.h - reads one cookie's value out of a request's Cookie header.
//
// DESCRIPTION
//   The console's only parser of a request header it interprets itself (forms and the query
//   string are httplib's). A header is "name=value" pairs separated by ";" and optional
//   spaces; the first pair whose name is exactly `name` wins. Nothing is unquoted or decoded:
//   the console's own cookies are lowercase hex, and the callers check that shape.
//
// STANDARDS
//   RFC 6265 section 4.2.1 (the Cookie header's syntax) and 5.4 (what a user agent sends).
//
// LIMITS
//   The value is a substring of the header, without ";"; "" when the cookie is absent or
//   empty. Fuzzed by tests/fuzz/cookie_header_fuzz.cc.
#pragma once

#include <string>
#include <string_view>

namespace threadmill::web {

std::string CookieValue(std::string_view header, std::string_view name);

}  // namespace threadmill::web
