// html_text.cc - HTML to text (see html_text.h).
#include "mail/html_text.h"

#include <algorithm>
#include <cstring>

#include "common/ascii.h"
#include "mail/charset.h"

namespace threadmill::mail {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// Case-insensitive search for an ASCII needle (lowercase) from pos.
size_t FindNoCase(std::string_view hay, std::string_view needle, size_t pos) {
  if (needle.empty()) return pos;
  while (pos + needle.size() <= hay.size()) {
    size_t p = hay.find_first_of(std::string{needle[0], static_cast<char>(needle[0] - 32)}, pos);
    if (p == std::string_view::npos || p + needle.size() > hay.size())
      return std::string_view::npos;
    bool eq = true;
    for (size_t k = 1; k < needle.size() && eq; ++k) eq = ascii::ToLower(hay[p + k]) == needle[k];
    if (eq) return p;
    pos = p + 1;
  }
  return std::string_view::npos;
}

struct Entity {
  const char* name;
  char32_t cp;
};
constexpr Entity kEntities[] = {
    {"amp", '&'},       {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xA0},     {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014},  {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"laquo", 0xAB},   {"raquo", 0xBB},   {"bull", 0x2022},  {"middot", 0xB7},
    {"euro", 0x20AC},   {"pound", 0xA3},   {"yen", 0xA5},     {"cent", 0xA2},    {"sect", 0xA7},
    {"deg", 0xB0},      {"times", 0xD7},   {"divide", 0xF7},  {"eacute", 0xE9},  {"egrave", 0xE8},
    {"ecirc", 0xEA},    {"agrave", 0xE0},  {"aacute", 0xE1},  {"acirc", 0xE2},   {"auml", 0xE4},
    {"ouml", 0xF6},     {"uuml", 0xFC},    {"Auml", 0xC4},    {"Ouml", 0xD6},    {"Uuml", 0xDC},
    {"szlig", 0xDF},    {"ccedil", 0xE7},  {"ntilde", 0xF1},  {"iacute", 0xED},  {"oacute", 0xF3},
    {"uacute", 0xFA},   {"Eacute", 0xC9},  {"zwnj", 0x200C},  {"zwj", 0x200D},   {"shy", 0xAD},
    {"thinsp", 0x2009}, {"ensp", 0x2002},  {"emsp", 0x2003},
};

// Decodes the entity at s[pos] == '&'; returns the characters consumed (0: not an entity).
size_t DecodeEntity(std::string_view s, size_t pos, std::string* out) {
  size_t semi = s.substr(0, pos + 14).find(';', pos);  // bounded: no quadratic scans
  if (semi == std::string_view::npos) return 0;
  std::string_view body = s.substr(pos + 1, semi - pos - 1);
  if (!body.empty() && body[0] == '#') {
    bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    std::string_view digits = body.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    char32_t cp = 0;
    for (char c : digits) {
      int v = (c >= '0' && c <= '9')          ? c - '0'
              : hex && (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : hex && (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                              : -1;
      if (v < 0) return 0;
      cp = std::min<char32_t>(cp * (hex ? 16 : 10) + static_cast<char32_t>(v), 0x110000);
    }
    if (cp == 0) cp = 0xFFFD;
    AppendUtf8(out, cp);
    return semi - pos + 1;
  }
  for (const auto& e : kEntities) {
    if (body == e.name) {
      AppendUtf8(out, e.cp);
      return semi - pos + 1;
    }
  }
  return 0;
}

// Line break for block elements; '\v' marks a paragraph break (never produced by source
// text, where every blank becomes a space).
char BreakFor(std::string_view name) {
  static constexpr const char* kParagraphs[] = {"p",  "h1",  "h2",    "h3",         "h4",
                                                "h5", "h6",  "table", "blockquote", "ul",
                                                "ol", "pre", "hr",    "dl",         "title"};
  static constexpr const char* kLines[] = {"div",    "br",     "li", "tr", "section", "article",
                                           "header", "footer", "dd", "dt", "address", "center"};
  auto in = [&](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* b) { return name == b; });
  };
  if (in(kParagraphs)) return '\v';
  if (in(kLines)) return '\n';
  return 0;
}

// Collapses blanks, trims lines; a run of breaks becomes one line break, or one empty line
// when it holds a paragraph break.
std::string Tidy(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  bool space = false, brk = false, para = false;
  for (char c : raw) {
    if (c == '\n' || c == '\v') {
      brk = true;
      para = para || c == '\v';
      space = false;
    } else if (IsSpace(c)) {
      space = !brk && !out.empty();
    } else {
      if (brk && !out.empty()) out += para ? "\n\n" : "\n";
      if (space) out += ' ';
      space = brk = para = false;
      out += c;
    }
  }
  return out;
}

// Replaces U+00A0 (from &nbsp; or raw) by a plain space so it collapses like one.
std::string NbspToSpace(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') {
      out += ' ';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string HtmlToText(std::string_view html) {
  std::string raw;
  raw.reserve(html.size());
  size_t pos = 0;
  while (pos < html.size()) {
    char c = html[pos];
    if (c == '&') {
      size_t n = DecodeEntity(html, pos, &raw);
      if (n == 0) raw += c;
      pos += n ? n : 1;
      continue;
    }
    if (c != '<') {
      raw += (IsSpace(c) || c == '\v') ? ' ' : c;  // source line breaks are blanks in HTML
      ++pos;
      continue;
    }
    char next = pos + 1 < html.size() ? ascii::ToLower(html[pos + 1]) : ' ';
    if (!((next >= 'a' && next <= 'z') || next == '/' || next == '!' || next == '?')) {
      raw += c;  // "a < b": not a tag
      ++pos;
      continue;
    }
    if (html.compare(pos, 4, "<!--") == 0) {
      size_t end = html.find("-->", pos + 4);
      pos = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    size_t gt = html.find('>', pos);
    if (gt == std::string_view::npos) break;
    size_t name_start = pos + 1 + (pos + 1 < html.size() && html[pos + 1] == '/');
    size_t name_end = name_start;
    while (name_end < gt && !IsSpace(html[name_end]) && html[name_end] != '/') ++name_end;
    std::string name(html.substr(name_start, name_end - name_start));
    name = ascii::ToLower(name);
    bool closing = html[pos + 1] == '/';
    pos = gt + 1;
    if (!closing && (name == "script" || name == "style" || name == "head")) {
      size_t end = FindNoCase(html, "</" + name, pos);
      pos = end == std::string_view::npos ? html.size() : html.find('>', end);
      pos = pos == std::string_view::npos ? html.size() : pos + 1;
      continue;
    }
    if (char b = BreakFor(name)) raw += b;
    if (name == "td" || name == "th") raw += ' ';
  }
  return Tidy(NbspToSpace(std::move(raw)));
}

}  // namespace threadmill::mail
