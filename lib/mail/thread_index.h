// thread_index.h - Outlook's Thread-Index header.
//
// DESCRIPTION
//   Thread-Index is base64 of a 22-byte header block (6 bytes of FILETIME, 16 bytes of GUID)
//   followed by one 5-byte child block per reply. The first 22 bytes are the same for every
//   message of a conversation, so their base64 form (the root) finds the conversation when
//   In-Reply-To/References are missing, as Outlook/Exchange often strip them.
//
// STANDARDS
//   [MS-OXOMSG] 2.2.1.3 PidTagConversationIndex (Thread-Index is its base64 form).
//
// LIMITS
//   Only the structure is checked (length >= 22, (length - 22) % 5 == 0); timestamps are not
//   interpreted. Invalid values give valid == false and defect bad-thread-index.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mail/defects.h"

namespace threadmill::mail {

struct ThreadIndex {
  bool valid = false;
  std::string root;         // base64 of the first 22 bytes (32 characters), "" when invalid
  size_t child_blocks = 0;  // number of 5-byte reply blocks
  // The whole value's bytes in lowercase hex, "" when invalid: a message whose index is a
  // prefix of another's is an earlier message of its conversation (the longest such prefix
  // names the parent, lib/thread/resolver.h).
  std::string hex;
  Defects defects;
};

ThreadIndex ParseThreadIndex(std::string_view value);

}  // namespace threadmill::mail
