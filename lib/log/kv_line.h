// kv_line.h - builds the key=value log lines threadmill writes for every decision.
//
// DESCRIPTION
//   Values are written bare when they hold only printable, non-space ASCII other than '"' and
//   '\'; otherwise they are double-quoted with '"' and '\' escaped and control or 8-bit bytes
//   written as \xHH, so one log line is always one line and can be split by a simple parser.
//   Empty values are written as key= (a key with no value), never dropped, so every decision
//   line carries the same keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace threadmill::log {

class KvLine {
 public:
  explicit KvLine(std::string_view prefix = {});  // e.g. "4XyZ1C2: "

  KvLine& Add(std::string_view key, std::string_view value);
  KvLine& Add(std::string_view key, int64_t value);
  // Adds the value between angle brackets (msgids and addresses), "<>" when empty and
  // `empty_as_bracket`, else key= .
  KvLine& AddBracketed(std::string_view key, std::string_view value, bool empty_as_bracket);

  const std::string& str() const { return line_; }

 private:
  void AppendValue(std::string_view value);
  std::string line_;
  bool first_ = true;
};

}  // namespace threadmill::log
