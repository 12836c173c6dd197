// msgid_fuzz.cc - libFuzzer target: Message-ID / In-Reply-To / References parsing
// (lib/mail/msgid). Invariants: ids are non-empty, at most 998 bytes, unique, and their
// normalization is stable (normalise(normalise(x)) == normalise(x), see msgid.h).
#include <set>
#include <string>

#include "fuzz_check.h"
#include "mail/msgid.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  MsgIdList list = ParseMsgIdList(in, 50);
  FUZZ_CHECK(list.ids.size() <= 50);
  std::set<std::string> seen;
  for (const auto& id : list.ids) {
    FUZZ_CHECK(!id.empty() && id.size() <= kMaxMsgIdBytes);
    FUZZ_CHECK(seen.insert(id).second);
    FUZZ_CHECK(ParseMsgId(FormatMsgId(id)).id == id);
    size_t at = id.find('@');
    if (at != std::string::npos && at > 0 && at + 1 < id.size()) {
      FUZZ_CHECK(ParseMsgId(id).id == id);
    }
  }
  MsgId first = ParseMsgId(in);
  if (!first.id.empty()) FUZZ_CHECK(ParseMsgId(FormatMsgId(first.id)).id == first.id);
  return 0;
}
