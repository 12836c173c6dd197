// charset.cc - conversion to UTF-8 (see charset.h).
#include "mail/charset.h"

#include <iconv.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/ascii.h"

namespace threadmill::mail {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence at s[i]; 0 when invalid, and then *subpart is the
// length of the maximal invalid subpart to replace by one U+FFFD (WHATWG/Unicode rule).
size_t ValidSequenceLength(std::string_view s, size_t i, size_t* subpart = nullptr) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  size_t dummy;
  if (!subpart) subpart = &dummy;
  *subpart = 1;
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    bool ok = i + k < s.size() && (k == 1 ? (b(1) >= lo && b(1) <= hi) : (b(k) & 0xC0) == 0x80);
    if (!ok) {
      *subpart = k;
      return 0;
    }
  }
  return len;
}

// RFC 2978 mime-charset is at most 40 characters of a restricted set; iconv names also use
// '.', ':' and '()' ("ANSI_X3.4-1968"). Anything else (';', ',', '/', blanks, 8-bit) is no
// label: glibc strips or interprets such characters ("utf-8;" and "UTF-8//IGNORE" are UTF-8
// to it, without the validation threadmill applies to UTF-8).
bool IsCharsetLabel(std::string_view l) {
  if (l.size() > 40) return false;
  for (char c : l) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '(' || c == ')';
    if (!ok) return false;
  }
  return true;
}

bool IsUtf8Name(std::string_view canonical) { return canonical == "UTF-8"; }

// Runs iconv over the input, replacing undecodable bytes with U+FFFD.
bool Convert(std::string_view bytes, const std::string& from, std::string* out, Defects* defects) {
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out->reserve(bytes.size() + bytes.size() / 2);
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  char buf[4096];
  bool invalid = false;
  while (in_left > 0) {
    char* o = buf;
    size_t o_left = sizeof(buf);
    size_t rc = iconv(cd, &in, &in_left, &o, &o_left);
    out->append(buf, sizeof(buf) - o_left);
    if (rc != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) continue;
    invalid = true;  // EILSEQ or EINVAL (truncated at the end): skip one byte
    out->append(kReplacement);
    // Some of glibc's decoders (CP949: ks_c_5601-1987, euc-kr) consume a bad sequence at
    // the end themselves and still fail: nothing is left to skip. Skipping anyway made
    // in_left SIZE_MAX, and the next call read past the input (found by fuzz.run.charset).
    if (in_left == 0) break;
    ++in;
    --in_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  char* o = buf;
  size_t o_left = sizeof(buf);
  iconv(cd, nullptr, nullptr, &o, &o_left);  // flush shift state
  out->append(buf, sizeof(buf) - o_left);
  iconv_close(cd);
  if (invalid && defects) defects->Add(Defect::kInvalidUtf8);
  if (out->find('\0') != std::string::npos) {
    std::erase(*out, '\0');
    if (defects) defects->Add(Defect::kNulByte);
  }
  return true;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = ValidSequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s, Defects* defects) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '\0') {
      if (defects) defects->Add(Defect::kNulByte);
      ++i;
      continue;
    }
    size_t subpart = 1;
    size_t n = ValidSequenceLength(s, i, &subpart);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    if (defects) defects->Add(Defect::kInvalidUtf8);
    out.append(kReplacement);
    i += subpart;
  }
  return out;
}

std::string CanonicalCharset(std::string_view label) {
  std::string l = ascii::ToLower(label);
  while (!l.empty() && (l.back() == ' ' || l.back() == '"' || l.back() == '\'')) l.pop_back();
  size_t start = l.find_first_not_of(" \"'");
  l = start == std::string::npos ? std::string() : l.substr(start);
  if (!IsCharsetLabel(l)) return {};
  static constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"", "UTF-8"},
      {"utf-8", "UTF-8"},
      {"utf8", "UTF-8"},
      {"unicode-1-1-utf-8", "UTF-8"},
      {"us-ascii", "WINDOWS-1252"},
      {"ascii", "WINDOWS-1252"},
      {"ansi_x3.4-1968", "WINDOWS-1252"},
      {"iso-8859-1", "WINDOWS-1252"},
      {"iso8859-1", "WINDOWS-1252"},
      {"iso_8859-1", "WINDOWS-1252"},
      {"latin1", "WINDOWS-1252"},
      {"latin-1", "WINDOWS-1252"},
      {"l1", "WINDOWS-1252"},
      {"cp1252", "WINDOWS-1252"},
      {"windows-1252", "WINDOWS-1252"},
      {"x-cp1252", "WINDOWS-1252"},
      {"iso-8859-9", "WINDOWS-1254"},
      {"latin5", "WINDOWS-1254"},
      {"iso-8859-11", "WINDOWS-874"},
      {"tis-620", "WINDOWS-874"},
      {"gb2312", "GBK"},
      {"x-gbk", "GBK"},
      {"ks_c_5601-1987", "CP949"},
      {"euc-kr", "CP949"},
      {"shift_jis", "SHIFT_JIS"},
      {"x-sjis", "SHIFT_JIS"},
      {"sjis", "SHIFT_JIS"},
      {"utf-16", "UTF-16"},
  };
  for (const auto& [alias, name] : kAliases) {
    if (l == alias) return std::string(name);
  }
  for (char& c : l) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return l;
}

std::string ToUtf8(std::string_view bytes, std::string_view charset, Defects* defects) {
  std::string name = CanonicalCharset(charset);
  bool ascii = true;
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') {
      ascii = false;
      break;
    }
  }
  // ASCII-compatible charsets need no conversion for pure ASCII input (the common case).
  bool ascii_compatible =
      name.find("UTF-16") == std::string::npos && name.find("UTF-32") == std::string::npos &&
      name.find("UTF-7") == std::string::npos && name.find("2022") == std::string::npos;
  if (name.empty()) {  // not a charset label at all
    if (defects) defects->Add(Defect::kUnknownCharset);
    return SanitizeUtf8(bytes, defects);
  }
  if (ascii && ascii_compatible) return std::string(bytes);
  if (IsUtf8Name(name)) return SanitizeUtf8(bytes, defects);
  std::string out;
  if (Convert(bytes, name, &out, defects)) {
    // iconv's output is not trusted to be valid UTF-8 (glibc's own UTF-8 aliases pass
    // what they get; some decoders emit surrogates): every result is checked.
    if (!IsValidUtf8(out)) out = SanitizeUtf8(out, defects);
    return out;
  }
  if (defects) defects->Add(Defect::kUnknownCharset);
  return SanitizeUtf8(bytes, defects);
}

std::string Unlabelled8bitToUtf8(std::string_view bytes, Defects* defects) {
  if (bytes.find('\0') == std::string_view::npos && IsValidUtf8(bytes)) {
    return std::string(bytes);
  }
  if (IsValidUtf8(bytes)) return SanitizeUtf8(bytes, defects);  // only NULs to drop
  if (defects) defects->Add(Defect::kEightBit);
  return ToUtf8(bytes, "windows-1252", defects);
}

void AppendUtf8(std::string* out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    out->append(kReplacement);
  } else if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace threadmill::mail
