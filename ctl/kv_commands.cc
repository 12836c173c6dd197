// kv_commands.cc - threadmillctl kv list|get|put|delete: a handler's records (store/kv_store.h).
//
//   kv list HANDLER [PREFIX] [--after KEY] [--limit N]   keys in byte order, one page
//   kv get HANDLER KEY
//   kv put HANDLER KEY VALUE|--file F [--ttl SECONDS]    F "-" = standard input
//   kv delete HANDLER KEY
// Output goes through TerminalText (--json: JSON strings); values that are not UTF-8 text
// are shown as "hex:..." . KEY and VALUE are taken as given (bytes of the argument).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "ctl/output.h"
#include "ctl/runtime_commands.h"
#include "admin/store_access.h"
#include "mail/charset.h"
#include "store/environment.h"
#include "store/kv_store.h"

namespace threadmill::ctl {

using admin::OpenEnvironment;
namespace {

using runtime_cli::Fail;

constexpr const char* kKvUsage =
    "kv needs list HANDLER [PREFIX] [--after KEY] [--limit N] | get HANDLER KEY | "
    "put HANDLER KEY VALUE|--file F [--ttl SECONDS] | delete HANDLER KEY";

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

struct KvArgs {
  std::vector<std::string> words;
  std::optional<std::string> after, file;
  uint64_t limit = store::kMaxKvListLimit;
  uint64_t ttl = 0;
};

bool ParseNumber(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *out = std::stoull(text);
  return true;
}

bool ParseKvArgs(const std::vector<std::string>& in, KvArgs* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& w = in[i];
    if (w == "--after" || w == "--file" || w == "--limit" || w == "--ttl") {
      if (i + 1 >= in.size()) return false;
      const std::string& v = in[++i];
      if (w == "--after") out->after = v;
      if (w == "--file") out->file = v;
      if (w == "--limit" && !ParseNumber(v, &out->limit)) return false;
      if (w == "--ttl" && !ParseNumber(v, &out->ttl)) return false;
    } else {
      out->words.push_back(w);
    }
  }
  return true;
}

Result<std::string> ReadValue(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + path);
    text << in.rdbuf();
  }
  return text.str();
}

}  // namespace

int RunKvCommand(const config::Config& config, const std::vector<std::string>& words, bool json) {
  KvArgs args;
  if (!ParseKvArgs(words, &args) || args.words.size() < 3) return Fail(kKvUsage, 2);
  const std::string& sub = args.words[1];
  const std::string& handler = args.words[2];
  if (sub == "list" && args.words.size() <= 4) {
    store::KvStore kv(OpenEnvironment(config, /*write=*/false));
    auto list = kv.List(handler, args.words.size() > 3 ? args.words[3] : "",
                        static_cast<size_t>(args.limit), true, args.after.value_or(""));
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
  if (sub == "get" && args.words.size() == 4) {
    store::KvStore kv(OpenEnvironment(config, /*write=*/false));
    auto v = kv.Get(handler, args.words[3]);
    if (!v.ok()) return Fail(v.error().message);
    if (!v->has_value()) {
      return Fail("no key \"" + TerminalText(args.words[3]) + "\" for handler " +
                  TerminalText(handler));
    }
    if (json) {
      Print({{"key", args.words[3]}, {"value", Printable(**v)}}, true);
    } else {
      std::cout << TerminalText(Printable(**v), true) << "\n";
    }
    return 0;
  }
  if (sub == "put" && args.words.size() == (args.file ? 4u : 5u)) {
    std::string value;
    if (args.file) {
      auto read = ReadValue(*args.file);  // before the store drops root
      if (!read.ok()) return Fail(read.error().message);
      value = std::move(*read);
    } else {
      value = args.words[4];
    }
    store::KvStore kv(OpenEnvironment(config, /*write=*/true));
    Status st = kv.Put(handler, args.words[3], value, args.ttl);
    if (!st.ok()) return Fail(st.error().message);
    if (json) Print({{"key", args.words[3]}, {"bytes", value.size()}, {"ttl", args.ttl}}, true);
    return 0;
  }
  if (sub == "delete" && args.words.size() == 4) {
    store::KvStore kv(OpenEnvironment(config, /*write=*/true));
    auto deleted = kv.Delete(handler, args.words[3]);
    if (!deleted.ok()) return Fail(deleted.error().message);
    if (!*deleted) {
      return Fail("no key \"" + TerminalText(args.words[3]) + "\" for handler " +
                  TerminalText(handler));
    }
    return 0;
  }
  return Fail(kKvUsage, 2);
}

}  // namespace threadmill::ctl
