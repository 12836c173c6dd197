#include "log/kv_line.h"

#include <cstdio>

namespace threadmill::log {
namespace {

bool IsBare(std::string_view value) {
  for (unsigned char c : value) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

KvLine::KvLine(std::string_view prefix) : line_(prefix) {}

KvLine& KvLine::Add(std::string_view key, std::string_view value) {
  if (!first_) line_ += ' ';
  first_ = false;
  line_ += key;
  line_ += '=';
  AppendValue(value);
  return *this;
}

KvLine& KvLine::Add(std::string_view key, int64_t value) { return Add(key, std::to_string(value)); }

KvLine& KvLine::AddBracketed(std::string_view key, std::string_view value, bool empty_as_bracket) {
  if (value.empty() && !empty_as_bracket) return Add(key, "");
  std::string bracketed;
  bracketed.reserve(value.size() + 2);
  bracketed += '<';
  bracketed += value;
  bracketed += '>';
  return Add(key, bracketed);
}

void KvLine::AppendValue(std::string_view value) {
  if (IsBare(value)) {
    line_ += value;
    return;
  }
  line_ += '"';
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      line_ += '\\';
      line_ += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      line_ += buf;
    } else {
      line_ += static_cast<char>(c);
    }
  }
  line_ += '"';
}

}  // namespace threadmill::log
