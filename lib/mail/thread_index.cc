#include "mail/thread_index.h"

#include "mail/header.h"
#include "mail/transfer_encoding.h"

namespace threadmill::mail {

ThreadIndex ThreadIndexRoot(std::string_view value) {
  constexpr size_t kHeaderBytes = 22, kChildBytes = 5, kMaxBytes = 4096;
  ThreadIndex index;
  std::string_view trimmed = TrimWhitespace(value);
  if (trimmed.empty()) return index;
  if (trimmed.size() > kMaxBytes) {
    index.defects.Add(Defect::kBadThreadIndex);
    return index;
  }
  Defects decode_defects;
  std::string bytes = Base64Decode(trimmed, &decode_defects);
  if (!decode_defects.empty() || bytes.size() < kHeaderBytes ||
      (bytes.size() - kHeaderBytes) % kChildBytes != 0) {
    index.defects.Add(Defect::kBadThreadIndex);
    return index;
  }
  index.root = Base64Encode(std::string_view(bytes).substr(0, kHeaderBytes));
  index.replies = (bytes.size() - kHeaderBytes) / kChildBytes;
  return index;
}

}  // namespace threadmill::mail
