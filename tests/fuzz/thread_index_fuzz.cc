// thread_index_fuzz.cc - libFuzzer target: Outlook Thread-Index (lib/mail/thread_index).
// Invariant: a valid index has a 32-character root of the same conversation.
#include "fuzz_check.h"
#include "mail/thread_index.h"
#include "mail/transfer_encoding.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ThreadIndex t = ParseThreadIndex(FuzzInput(data, size));
  if (t.valid) {
    FUZZ_CHECK(t.root.size() == 32);
    std::string reply = Base64Decode(t.root) + std::string(5, '\x01');  // one more child block
    ThreadIndex child = ParseThreadIndex(Base64Encode(reply));
    FUZZ_CHECK(child.valid && child.root == t.root && child.child_blocks == 1);
  } else {
    FUZZ_CHECK(t.root.empty() && !t.defects.empty());
  }
  return 0;
}
