// kv_commands.cc - threadmillctl kv list HANDLER [PREFIX] | kv get HANDLER KEY.
#include <cstdio>
#include <iostream>

#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "ctl/store_access.h"
#include "mail/charset.h"
#include "store/environment.h"
#include "store/kv_store.h"

namespace threadmill::ctl {
namespace {

using runtime_cli::Fail;

// Values are bytes: shown as text when valid UTF-8 without NUL, else as hex.
std::string Printable(const std::string& value) {
  if (value.find('\0') == std::string::npos && mail::IsValidUtf8(value)) return value;
  static const char kHex[] = "0123456789abcdef";
  std::string out = "hex:";
  for (unsigned char c : value) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

int RunKvCommand(const config::Config& config, const std::vector<std::string>& words, bool json) {
  if (words.size() < 3) return Fail("kv needs list HANDLER [PREFIX] or get HANDLER KEY", 2);
  store::KvStore kv(OpenEnvironment(config, /*write=*/false));
  const std::string& sub = words[1];
  const std::string& handler = words[2];
  if (sub == "list") {
    auto list = kv.List(handler, words.size() > 3 ? words[3] : "", store::kMaxKvListLimit, true);
    if (!list.ok()) return Fail(list.error().message);
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& e : *list) out.push_back({{"key", e.key}, {"value", Printable(e.value)}});
    if (json) {
      Print(out, true);
    } else {
      for (const auto& e : *list) {
        std::cout << TerminalText(e.key) << "\t" << TerminalText(Printable(e.value)) << "\n";
      }
    }
    return 0;
  }
  if (sub == "get" && words.size() == 4) {
    auto v = kv.Get(handler, words[3]);
    if (!v.ok()) return Fail(v.error().message);
    if (!v->has_value()) return Fail("no key \"" + words[3] + "\" for handler " + handler);
    if (json) {
      Print({{"key", words[3]}, {"value", Printable(**v)}}, true);
    } else {
      std::cout << TerminalText(Printable(**v), true) << "\n";
    }
    return 0;
  }
  return Fail("kv needs list HANDLER [PREFIX] or get HANDLER KEY", 2);
}

}  // namespace threadmill::ctl
