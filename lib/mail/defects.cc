// defects.cc - names of the defect flags (see defects.h).
#include "mail/defects.h"

namespace threadmill::mail {

const char* DefectName(Defect defect) {
  static constexpr const char* kNames[] = {
      "missing-angle-brackets",
      "duplicate-id",
      "junk",
      "too-long",
      "truncated",
      "nul-byte",
      "invalid-utf8",
      "8bit",
      "missing-at",
      "unterminated",
      "header-too-long",
      "missing-blank-line",
      "bad-header-line",
      "missing-boundary",
      "unterminated-multipart",
      "bad-base64",
      "bad-quoted-printable",
      "unknown-encoding",
      "unknown-charset",
      "missing-content-type",
      "mime-parse-error",
      "bad-encoded-word",
      "bad-parameter",
      "bad-thread-index",
      "too-complex",
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Defect::kCount_));
  auto i = static_cast<size_t>(defect);
  return i < static_cast<size_t>(Defect::kCount_) ? kNames[i] : "unknown";
}

std::string Defects::ToString() const {
  std::string out;
  for (unsigned i = 0; i < static_cast<unsigned>(Defect::kCount_); ++i) {
    auto d = static_cast<Defect>(i);
    if (!Has(d)) continue;
    if (!out.empty()) out += ',';
    out += DefectName(d);
  }
  return out;
}

}  // namespace threadmill::mail
