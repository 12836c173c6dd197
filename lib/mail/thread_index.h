// thread_index.h - Outlook's Thread-Index header: the conversation it belongs to.
//
// DESCRIPTION
//   Thread-Index is base64 of a 22-byte header block (6 bytes of FILETIME, 16 bytes of a
//   conversation GUID) followed by one 5-byte child block per reply. Every message of a
//   conversation starts with the same 22 bytes, so those bytes (re-encoded in base64) name
//   the conversation: threadmill stores the root of outbound mail and looks it up for inbound
//   mail without a usable In-Reply-To/References.
//
// STANDARDS
//   [MS-OXOMSG] 2.2.1.3 PidTagConversationIndex (the same bytes Thread-Index carries).
//
// LIMITS
//   Only the form is checked (length 22 + 5n after decoding); the content is not.
#pragma once

#include <string>
#include <string_view>

#include "mail/defects.h"

namespace threadmill::mail {

struct ThreadIndex {
  std::string root;    // base64 of the first 22 bytes; empty when the value is invalid
  size_t replies = 0;  // number of 5-byte child blocks
  Defects defects;
};

ThreadIndex ThreadIndexRoot(std::string_view value);

}  // namespace threadmill::mail
