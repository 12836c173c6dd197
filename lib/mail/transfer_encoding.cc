// transfer_encoding.cc - base64 and quoted-printable (see transfer_encoding.h).
#include "mail/transfer_encoding.h"

#include <array>

#include "common/ascii.h"

namespace threadmill::mail {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  t['-'] = 62;  // base64url, seen in broken mailers
  t['_'] = 63;
  return t;
}
constexpr std::array<int8_t, 256> kTable = MakeTable();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string Base64Decode(std::string_view in, Defects* defects) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  bool bad = false, padded = false;
  for (char c : in) {
    if (ascii::IsBlank(c)) continue;
    if (c == '=') {
      padded = true;
      acc = 0;  // the partial quantum's leftover bits are padding
      bits = 0;
      continue;
    }
    int v = kTable[static_cast<unsigned char>(c)];
    if (v < 0) {
      bad = true;
      continue;
    }
    if (padded) bad = true;  // data after padding: concatenated blocks, keep decoding
    padded = false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (bits >= 6) bad = true;  // a lone trailing character cannot encode a byte
  if (bad && defects) defects->Add(Defect::kBadBase64);
  return out;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = byte(i) << 16;
    if (i + 1 < in.size()) v |= byte(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string QuotedPrintableDecode(std::string_view in, bool q_encoding, Defects* defects) {
  std::string out;
  out.reserve(in.size());
  bool bad = false;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_' && q_encoding) {
      out += ' ';
    } else if (c != '=') {
      out += c;
    } else if (i + 2 < in.size() + 0 && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      // Soft line break: '=' then optional trailing blanks then CRLF/LF (or the end).
      size_t j = i + 1;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      if (j + 1 < in.size() && in[j] == '\r' && in[j + 1] == '\n') {
        i = j + 1;
      } else if (j < in.size() && in[j] == '\n') {
        i = j;
      } else if (j >= in.size()) {
        i = j;
      } else {
        bad = true;  // "=" not followed by hex: keep it literally
        out += c;
      }
    }
  }
  if (bad && defects) defects->Add(Defect::kBadQuotedPrintable);
  return out;
}

}  // namespace threadmill::mail
