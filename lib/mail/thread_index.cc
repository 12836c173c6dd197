// thread_index.cc - Thread-Index parsing (see thread_index.h).
#include "mail/thread_index.h"

#include "common/ascii.h"
#include "mail/header.h"
#include "mail/transfer_encoding.h"

namespace threadmill::mail {

ThreadIndex ParseThreadIndex(std::string_view value) {
  constexpr size_t kHeaderBytes = 22;
  constexpr size_t kChildBytes = 5;
  ThreadIndex out;
  std::string_view v = ascii::Trim(value);
  if (v.size() > 64 * 1024) {  // 13,000 replies: not a real conversation index
    out.defects.Add(Defect::kBadThreadIndex);
    out.defects.Add(Defect::kTooLong);
    return out;
  }
  Defects decode_defects;
  std::string bytes = Base64Decode(Unfold(v), &decode_defects);
  if (!decode_defects.empty() || bytes.size() < kHeaderBytes ||
      (bytes.size() - kHeaderBytes) % kChildBytes != 0) {
    out.defects.Add(Defect::kBadThreadIndex);
    return out;
  }
  out.valid = true;
  out.root = Base64Encode(std::string_view(bytes).substr(0, kHeaderBytes));
  out.child_blocks = (bytes.size() - kHeaderBytes) / kChildBytes;
  static constexpr char kHex[] = "0123456789abcdef";
  out.hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.hex += kHex[c >> 4];
    out.hex += kHex[c & 15];
  }
  return out;
}

}  // namespace threadmill::mail
