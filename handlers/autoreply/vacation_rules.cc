// vacation_rules.cc - see vacation_rules.h.
#include "vacation_rules.h"

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace threadmill::handlers::autoreply {
namespace {

std::string Str(const char* s) { return s ? s : ""; }

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// The sender's local part when it names a system or list robot, else "".
std::string SystemSender(const std::string& sender) {
  std::string local = Lower(sender.substr(0, sender.rfind('@')));
  static const char* const kExact[] = {"mailer-daemon", "listserv",     "majordomo",
                                       "noreply",       "no-reply",     "no_reply",
                                       "donotreply",    "do-not-reply", "do_not_reply"};
  for (const char* name : kExact) {
    if (local == name) return local;
  }
  if (StartsWith(local, "owner-") || EndsWith(local, "-request")) return local;
  return "";
}

// Every token of a header value that looks like an address, lower-cased.
std::vector<std::string> AddressesIn(const std::string& value) {
  std::vector<std::string> out;
  std::string token;
  auto flush = [&] {
    if (token.find('@') != std::string::npos) out.push_back(Lower(token));
    token.clear();
  };
  for (char c : value) {
    if (std::string_view(" \t\r\n,;:<>()\"[]").find(c) != std::string_view::npos) {
      flush();
    } else {
      token += c;
    }
  }
  flush();
  return out;
}

// Why the headers mark the message as automatic or list mail, or "".
std::string HeaderReason(const threadmill_envelope& e) {
  if (!e.headers) return "";
  for (size_t i = 0; i < e.header_count; ++i) {
    std::string name = Lower(Str(e.headers[i].name));
    std::string value = Lower(Trim(Str(e.headers[i].value)));
    if (name == "auto-submitted" && !value.empty() && !StartsWith(value, "no")) {
      return "Auto-Submitted: " + value;
    }
    if (name == "precedence" && (value == "bulk" || value == "junk" || value == "list")) {
      return "Precedence: " + value;
    }
    if (StartsWith(name, "list-")) return "list header " + Str(e.headers[i].name);
    if (name == "x-auto-response-suppress" &&
        (value.find("all") != std::string::npos || value.find("oof") != std::string::npos ||
         value.find("autoreply") != std::string::npos)) {
      return "X-Auto-Response-Suppress: " + value;
    }
  }
  return "";
}

bool AddressedTo(const threadmill_envelope& e, const std::vector<std::string>& mine) {
  if (!e.headers) return false;
  static const char* const kFields[] = {"to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"};
  for (size_t i = 0; i < e.header_count; ++i) {
    std::string name = Lower(Str(e.headers[i].name));
    if (std::none_of(std::begin(kFields), std::end(kFields),
                     [&](const char* f) { return name == f; })) {
      continue;
    }
    for (const std::string& addr : AddressesIn(Str(e.headers[i].value))) {
      if (std::find(mine.begin(), mine.end(), addr) != mine.end()) return true;
    }
  }
  return false;
}

}  // namespace

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string SilenceReason(const threadmill_envelope& e, const std::vector<std::string>& mine,
                          bool require_addressed) {
  std::string sender = Str(e.sender_address);
  if (sender.empty()) return "null sender";
  if (e.flags & THREADMILL_ENV_AUTO_SUBMITTED) return "auto-submitted";
  if (e.flags & THREADMILL_ENV_LIST) return "mailing list";
  if (e.flags & THREADMILL_ENV_BULK) return "bulk or junk precedence";
  if (e.flags & THREADMILL_ENV_NO_REPLY) {
    return "threadmill will not reply (" + Str(e.no_reply_reason) + ")";
  }
  if (std::string system = SystemSender(sender); !system.empty()) {
    return "system sender " + system;
  }
  if (std::string why = HeaderReason(e); !why.empty()) return why;
  if (std::find(mine.begin(), mine.end(), Lower(sender)) != mine.end()) return "own address";
  if (require_addressed && !mine.empty() && !AddressedTo(e, mine)) {
    return "not addressed to " + mine.front() + " in To/Cc/Bcc";
  }
  return "";
}

}  // namespace threadmill::handlers::autoreply
