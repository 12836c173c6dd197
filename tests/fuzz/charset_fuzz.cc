// charset_fuzz.cc - libFuzzer target: conversion to UTF-8 (lib/mail/charset). The first
// line of the input is the charset label, the rest the bytes; the first byte also picks
// one of the labels below (glibc's UTF-8 aliases, stateful and multi-byte decoders).
// Invariant (issue 8 item 14): every result is valid UTF-8 without NUL.
#include <string>

#include "fuzz_check.h"
#include "mail/charset.h"

using namespace threadmill::mail;

namespace {
const char* const kLabels[] = {
    "utf-8",        "utf-8;",     "UTF-8//IGNORE",  "ISO-IR-193", "utf-16",
    "UTF-16BE",     "utf-7",      "UCS-2",          "UTF-32",     "iso-2022-jp",
    "shift_jis",    "gb18030",    "big5",           "euc-jp",     "koi8-r",
    "windows-1252", "iso-8859-1", "ks_c_5601-1987", "hz-gb-2312", "ibm037",
    "x-unknown",    "",
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  size_t nl = in.find('\n');
  std::string_view label = nl == std::string_view::npos ? std::string_view() : in.substr(0, nl);
  std::string_view bytes = nl == std::string_view::npos ? in : in.substr(nl + 1);
  Defects d;
  std::string out = ToUtf8(bytes, label, &d);
  FUZZ_CHECK(IsValidUtf8(out) && out.find('\0') == std::string::npos);
  if (!in.empty()) {
    const char* fixed = kLabels[static_cast<unsigned char>(in[0]) % std::size(kLabels)];
    out = ToUtf8(bytes, fixed, &d);
    FUZZ_CHECK(IsValidUtf8(out) && out.find('\0') == std::string::npos);
  }
  out = SanitizeUtf8(in, &d);
  FUZZ_CHECK(IsValidUtf8(out) && out.find('\0') == std::string::npos);
  out = Unlabelled8bitToUtf8(in, &d);
  FUZZ_CHECK(IsValidUtf8(out) && out.find('\0') == std::string::npos);
  if (IsValidUtf8(in) && in.find('\0') == std::string_view::npos)
    FUZZ_CHECK(SanitizeUtf8(in) == in);
  return 0;
}
