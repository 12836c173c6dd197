// rfc2047.cc - encoded words (see rfc2047.h).
#include "mail/rfc2047.h"

#include <algorithm>

#include "mail/charset.h"
#include "mail/transfer_encoding.h"

namespace threadmill::mail {
namespace {

struct EncodedWord {
  std::string_view charset;
  std::string bytes;
  size_t end = 0;  // index after "?="
};

bool IsWhitespaceOnly(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// Parses an encoded word starting at text[pos] == "=?"; false when it is not one.
bool ParseWord(std::string_view text, size_t pos, EncodedWord* word, Defects* defects) {
  size_t q1 = text.find('?', pos + 2);
  if (q1 == std::string_view::npos || q1 == pos + 2 || q1 + 2 >= text.size()) return false;
  std::string_view charset = text.substr(pos + 2, q1 - pos - 2);
  if (charset.find_first_of(" \t\r\n=") != std::string_view::npos) return false;
  char enc = text[q1 + 1];
  if (text[q1 + 2] != '?') return false;
  size_t q3 = text.find('?', q1 + 3);
  if (q3 == std::string_view::npos || q3 + 1 >= text.size() || text[q3 + 1] != '=') return false;
  std::string_view payload = text.substr(q1 + 3, q3 - q1 - 3);
  if (payload.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  charset = charset.substr(0, charset.find('*'));  // RFC 2231 language suffix
  if (enc == 'B' || enc == 'b') {
    word->bytes = Base64Decode(payload, defects);
  } else if (enc == 'Q' || enc == 'q') {
    word->bytes = QuotedPrintableDecode(payload, /*q_encoding=*/true, defects);
  } else {
    return false;
  }
  word->charset = charset;
  word->end = q3 + 2;
  return true;
}

bool SameCharset(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

std::string DecodeEncodedWords(std::string_view text, Defects* defects) {
  if (text.find("=?") == std::string_view::npos) return Unlabelled8bitToUtf8(text, defects);
  std::string out;
  std::string pending;  // bytes of adjacent words in pending_charset
  std::string_view pending_charset;
  bool last_was_word = false;
  auto flush = [&] {
    if (!pending_charset.empty()) out += ToUtf8(pending, pending_charset, defects);
    pending.clear();
    pending_charset = {};
  };
  size_t literal = 0, pos = 0;
  while ((pos = text.find("=?", pos)) != std::string_view::npos) {
    EncodedWord word;
    if (!ParseWord(text, pos, &word, defects)) {
      if (defects) defects->Add(Defect::kBadEncodedWord);
      pos += 2;
      continue;
    }
    std::string_view between = text.substr(literal, pos - literal);
    if (!(last_was_word && IsWhitespaceOnly(between))) {
      flush();
      out += Unlabelled8bitToUtf8(between, defects);
    }
    if (!pending_charset.empty() && !SameCharset(pending_charset, word.charset)) flush();
    pending_charset = word.charset;
    pending += word.bytes;
    last_was_word = true;
    literal = pos = word.end;
  }
  flush();
  out += Unlabelled8bitToUtf8(text.substr(literal), defects);
  return out;
}

namespace {

constexpr std::string_view kPrefixB = "=?UTF-8?B?";
constexpr std::string_view kPrefixQ = "=?UTF-8?Q?";
constexpr size_t kOverhead = 12;  // prefix + "?="

bool QSafe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
         c == '*' || c == '+' || c == '-' || c == '/';
}

size_t QLength(char c) { return (QSafe(c) || c == ' ') ? 1 : 3; }

void AppendQ(std::string* out, char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (c == ' ') {
    *out += '_';
  } else if (QSafe(c)) {
    *out += c;
  } else {
    auto u = static_cast<unsigned char>(c);
    *out += '=';
    *out += kHex[u >> 4];
    *out += kHex[u & 15];
  }
}

// Length in bytes of the UTF-8 character starting at s[i] (1 for stray bytes).
size_t CharLength(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  return std::min(n, s.size() - i);
}

// Encoded length of one character in the chosen encoding, for B counted in raw bytes.
size_t EncodedCost(std::string_view ch, bool b) {
  if (b) return ch.size();
  size_t n = 0;
  for (char c : ch) n += QLength(c);
  return n;
}

}  // namespace

std::string EncodeHeaderWord(std::string_view utf8, size_t field_name_len) {
  bool plain = utf8.find("=?") == std::string_view::npos;
  size_t q_len = 0;
  for (char c : utf8) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (u < 0x20 && c != '\t')) plain = false;
    q_len += QLength(c);
  }
  if (plain) return std::string(utf8);
  bool b = (utf8.size() + 2) / 3 * 4 < q_len;
  std::string out;
  std::string chunk;  // raw bytes of the current word
  size_t line_room = std::max<size_t>(78 - std::min<size_t>(field_name_len + 2, 60), 16);
  size_t budget = std::min<size_t>(75, line_room) - kOverhead;  // encoded payload room
  size_t used = 0;
  auto emit = [&] {
    if (!out.empty()) out += "\r\n ";
    out += b ? kPrefixB : kPrefixQ;
    if (b) {
      out += Base64Encode(chunk);
    } else {
      for (char c : chunk) AppendQ(&out, c);
    }
    out += "?=";
    chunk.clear();
    used = 0;
    budget = 75 - kOverhead;  // continuation lines: " " + word <= 76
  };
  for (size_t i = 0; i < utf8.size();) {
    std::string_view ch = utf8.substr(i, CharLength(utf8, i));
    size_t cost = EncodedCost(ch, b);
    size_t would = b ? (used + cost + 2) / 3 * 4 : used + cost;
    if (!chunk.empty() && would > budget) emit();
    chunk += ch;
    used += cost;
    i += ch.size();
  }
  if (!chunk.empty() || out.empty()) emit();
  return out;
}

}  // namespace threadmill::mail
