#include "reply/builder.h"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

#include "mail/rfc2047.h"
#include "mail/transfer_encoding.h"

namespace threadmill::reply {
namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Header-safe text: CR, LF and other control characters become spaces (no injection).
std::string HeaderSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  return out;
}

std::string LfOnly(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') continue;
      out.push_back('\n');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string EncodedHeader(std::string_view name, std::string_view value) {
  std::string safe = HeaderSafe(value);
  return std::string(name) + ": " + LfOnly(mail::EncodeHeaderWord(safe, name.size() + 2)) + "\n";
}

std::string FormatMailbox(std::string_view name, std::string_view address, size_t field_len) {
  std::string addr = "<" + HeaderSafe(address) + ">";
  if (name.empty()) return addr;
  std::string safe = HeaderSafe(name);
  if (!IsAscii(safe)) return LfOnly(mail::EncodeHeaderWord(safe, field_len)) + " " + addr;
  std::string quoted = "\"";
  for (char c : safe) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return quoted + "\" " + addr;
}

// The body part headers and encoded content of one UTF-8 text part.
std::string TextPart(std::string_view subtype, std::string_view utf8) {
  size_t high = 0;
  for (unsigned char c : utf8) high += c >= 0x80;
  bool base64 = utf8.size() > 0 && high * 3 > utf8.size();
  std::string out = "Content-Type: text/" + std::string(subtype) + "; charset=UTF-8\n";
  if (base64) {
    out += "Content-Transfer-Encoding: base64\n\n" + EncodeBase64Lines(LfOnly(std::string(utf8)));
  } else {
    out += "Content-Transfer-Encoding: quoted-printable\n\n" + EncodeQuotedPrintable(utf8);
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Length of a leading reply prefix ("Re:", "AW [2]:", "Sv^3:" ...) or 0.
size_t ReplyPrefixLength(std::string_view s) {
  static const char* const kPrefixes[] = {"antwort", "antw", "réf",  "ref",  "rif", "res",
                                          "odp",     "ynt",  "atb",  "ats",  "aw",  "sv",
                                          "vs",      "re",   "回复", "回覆", "答复"};
  std::string lower = Lower(s.substr(0, 16));
  for (const char* prefix : kPrefixes) {
    std::string_view p(prefix);
    if (lower.compare(0, p.size(), p) != 0) continue;
    size_t i = p.size();
    while (i < s.size() && s[i] == ' ') ++i;
    // Optional counter: [2], (2) or ^2.
    if (i < s.size() && (s[i] == '[' || s[i] == '(')) {
      char close = s[i] == '[' ? ']' : ')';
      size_t j = i + 1;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (j > i + 1 && j < s.size() && s[j] == close) i = j + 1;
    } else if (i < s.size() && s[i] == '^') {
      size_t j = i + 1;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (j > i + 1) i = j;
    }
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size() && s[i] == ':') return i + 1;
    if (s.substr(i, 3) == "\xEF\xBC\x9A") return i + 3;  // fullwidth colon
  }
  return 0;
}

}  // namespace

std::string EncodeQuotedPrintable(std::string_view utf8) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string text = LfOnly(std::string(utf8));
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    bool last = end == std::string::npos;
    std::string_view line(text.data() + pos, (last ? text.size() : end) - pos);
    std::string encoded_line;
    size_t column = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      bool at_end = i + 1 == line.size();
      std::string piece;
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end)) {
        piece.assign(1, static_cast<char>(c));
        // "From " and a lone "." at line start confuse mbox and SMTP.
        if (column == 0 &&
            ((c == 'F' && line.substr(i, 5) == "From ") || (c == '.' && line.size() == 1))) {
          piece = std::string("=") + kHex[c >> 4] + kHex[c & 15];
        }
      } else {
        piece = std::string("=") + kHex[c >> 4] + kHex[c & 15];
      }
      if (column + piece.size() > 75) {
        encoded_line += "=\n";
        column = 0;
      }
      encoded_line += piece;
      column += piece.size();
    }
    out += encoded_line;
    if (last) break;
    out += "\n";
    pos = end + 1;
  }
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

std::string EncodeBase64Lines(std::string_view bytes) {
  std::string encoded = mail::Base64Encode(bytes);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\n";
  return out;
}

std::string FormatDate(int64_t unix_seconds) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string ReplySubject(std::string_view subject) {
  std::string_view rest = subject;
  for (int rounds = 0; rounds < 100; ++rounds) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    size_t n = ReplyPrefixLength(rest);
    if (n == 0) break;
    rest.remove_prefix(n);
  }
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  return "Re: " + std::string(rest);
}

std::vector<std::string> ReplyReferences(const std::vector<std::string>& parent_references,
                                         std::string_view parent_id, size_t max_ids) {
  std::vector<std::string> all;
  for (const auto& id : parent_references) {
    if (!id.empty() && id != parent_id) all.push_back(id);
  }
  if (!parent_id.empty()) all.emplace_back(parent_id);
  if (max_ids == 0) max_ids = 1;
  if (all.size() > max_ids) {
    std::vector<std::string> trimmed;
    trimmed.push_back(all.front());
    trimmed.insert(trimmed.end(), all.end() - static_cast<ptrdiff_t>(max_ids - 1), all.end());
    if (max_ids == 1) trimmed = {all.back()};
    all = std::move(trimmed);
  }
  auto bytes = [&] {
    size_t n = 0;
    for (const auto& id : all) n += id.size() + 3;
    return n;
  };
  while (all.size() > 2 && bytes() > kMaxReferencesBytes) all.erase(all.begin() + 1);
  return all;
}

namespace {

// RFC 2045 token characters (type, subtype).
bool IsTokenChar(unsigned char c) {
  return c > 0x20 && c < 0x7f && !std::strchr("()<>@,;:\\\"/[]?=", c);
}

// ` name="file"` (ASCII) or ` name*=UTF-8''%..` (RFC 2231) for parameter `param`.
std::string FilenameParam(std::string_view param, std::string_view filename) {
  std::string safe;
  for (unsigned char c : filename) {
    safe.push_back(c < 0x20 || c == 0x7f   ? ' '
                   : c == '/' || c == '\\' ? '_'
                                           : static_cast<char>(c));
  }
  if (IsAscii(safe)) {
    std::string quoted;
    for (char c : safe) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    return "; " + std::string(param) + "=\"" + quoted + "\"";
  }
  static const char kHex[] = "0123456789ABCDEF";
  std::string pct;
  for (unsigned char c : safe) {
    if (std::isalnum(c) || std::strchr("!#$&+-.^_`|~", c)) {
      pct.push_back(static_cast<char>(c));
    } else {
      pct += std::string("%") + kHex[c >> 4] + kHex[c & 15];
    }
  }
  return "; " + std::string(param) + "*=UTF-8''" + pct;
}

std::string AttachmentPart(const OutgoingAttachment& a) {
  std::string type = a.content_type.empty() || !CheckContentType(a.content_type)
                         ? std::string("application/octet-stream")
                         : Lower(a.content_type);
  std::string out = "Content-Type: " + type;
  if (!a.filename.empty()) out += FilenameParam("name", a.filename);
  out += "\nContent-Disposition: attachment";
  if (!a.filename.empty()) out += FilenameParam("filename", a.filename);
  out += "\nContent-Transfer-Encoding: base64\n\n" + EncodeBase64Lines(a.data);
  return out;
}

// The body without attachments: text/plain, or multipart/alternative text + html.
std::string BodyPart(const OutgoingMessage& m) {
  if (m.html.empty()) return TextPart("plain", m.text);
  std::string out = "Content-Type: multipart/alternative; boundary=\"" + m.boundary + "\"\n\n";
  out += "This is a multi-part message in MIME format.\n\n";
  out += "--" + m.boundary + "\n" + TextPart("plain", m.text) + "\n";
  out += "--" + m.boundary + "\n" + TextPart("html", m.html) + "\n";
  out += "--" + m.boundary + "--\n";
  return out;
}

std::string AddressList(const std::vector<std::string>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ",\n ") + ("<" + HeaderSafe(a) + ">");
  return out;
}

}  // namespace

bool CheckContentType(std::string_view content_type) {
  size_t slash = content_type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == content_type.size() ||
      content_type.size() > 255) {
    return false;
  }
  for (size_t i = 0; i < content_type.size(); ++i) {
    if (i != slash && !IsTokenChar(static_cast<unsigned char>(content_type[i]))) return false;
  }
  return true;
}

std::string CheckExtraHeader(std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > 76) return "header-name";
  for (unsigned char c : name) {
    if (c < 33 || c > 126 || c == ':') return "header-name";
  }
  std::string lower = Lower(name);
  static const char* const kOwned[] = {"from",
                                       "to",
                                       "cc",
                                       "bcc",
                                       "sender",
                                       "subject",
                                       "date",
                                       "message-id",
                                       "in-reply-to",
                                       "references",
                                       "auto-submitted",
                                       "precedence",
                                       "return-path",
                                       "received",
                                       "received-spf",
                                       "authentication-results",
                                       "x-original-to",
                                       "delivered-to"};
  static const char* const kOwnedPrefixes[] = {"mime-", "content-", "resent-", "dkim-", "arc-"};
  bool owned = std::find(std::begin(kOwned), std::end(kOwned), lower) != std::end(kOwned);
  for (const char* prefix : kOwnedPrefixes) owned = owned || lower.rfind(prefix, 0) == 0;
  if (owned) return "header-owned:" + std::string(name);
  if (value.size() > 998) return "header-value";
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return "header-value";
  }
  return "";
}

size_t ComposedBytes(const OutgoingMessage& m) {
  size_t n = m.text.size() + m.html.size();
  for (const auto& a : m.attachments)
    n += a.data.size() + a.filename.size() + a.content_type.size();
  for (const auto& h : m.extra_headers) n += h.name.size() + h.value.size() + 4;
  return n;
}

std::string RenderMessage(const OutgoingMessage& m) {
  std::string out;
  out += "Date: " + FormatDate(m.date) + "\n";
  out += "From: " + FormatMailbox(m.from_name, m.from_address, 6) + "\n";
  if (!m.reply_to.empty()) out += "Reply-To: <" + HeaderSafe(m.reply_to) + ">\n";
  out += "To: " + AddressList(m.to) + "\n";
  if (!m.cc.empty()) out += "Cc: " + AddressList(m.cc) + "\n";
  out += EncodedHeader("Subject", m.subject);
  out += "Message-ID: <" + HeaderSafe(m.message_id) + ">\n";
  if (!m.in_reply_to.empty()) out += "In-Reply-To: <" + HeaderSafe(m.in_reply_to) + ">\n";
  if (!m.references.empty()) {
    out += "References:";
    for (const auto& id : m.references) out += " <" + HeaderSafe(id) + ">\n";
    // Fold: one id per line (each line already ends with \n; continuation lines start with
    // the space written before '<').
  }
  if (!m.auto_submitted.empty()) out += "Auto-Submitted: " + m.auto_submitted + "\n";
  for (const auto& h : m.extra_headers) {
    if (!CheckExtraHeader(h.name, h.value).empty()) continue;  // never written unchecked
    out += EncodedHeader(h.name, h.value);
  }
  out += "MIME-Version: 1.0\n";
  if (m.attachments.empty()) return out + BodyPart(m);
  out += "Content-Type: multipart/mixed; boundary=\"" + m.mixed_boundary + "\"\n\n";
  out += "This is a multi-part message in MIME format.\n\n";
  out += "--" + m.mixed_boundary + "\n" + BodyPart(m) + "\n";
  for (const auto& a : m.attachments)
    out += "--" + m.mixed_boundary + "\n" + AttachmentPart(a) + "\n";
  out += "--" + m.mixed_boundary + "--\n";
  return out;
}

namespace {
uint64_t RandomU64() {
  uint64_t value = 0;
  ssize_t got;
  do {
    got = getrandom(&value, sizeof value, 0);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof value)) {
    std::random_device rd;
    value = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  return value;
}

std::string Base36(uint64_t v) {
  static const char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v % 36]);
    v /= 36;
  } while (v);
  return out;
}
}  // namespace

std::string NewMessageId(std::string_view domain) {
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  char random[17];
  std::snprintf(random, sizeof random, "%016llx", static_cast<unsigned long long>(RandomU64()));
  return "tm." + Base36(ms) + "." + random + "@" + std::string(domain);
}

std::string NewBoundary() {
  char buf[40];
  std::snprintf(buf, sizeof buf, "=_tm_%016llx", static_cast<unsigned long long>(RandomU64()));
  return buf;
}

}  // namespace threadmill::reply
