// address_fuzz.cc - libFuzzer target: RFC 5322 address lists and SMTP envelope addresses
// (lib/mail/address). Invariants: display names are valid UTF-8, the cap holds.
#include "fuzz_check.h"
#include "mail/address.h"
#include "mail/charset.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  AddressList list = ParseAddressList(in, 20);
  FUZZ_CHECK(list.mailboxes.size() <= 20);
  for (const auto& m : list.mailboxes) FUZZ_CHECK(IsValidUtf8(m.display_name));
  Defects d;
  Mailbox first = ParseMailbox(in, &d);
  FUZZ_CHECK(IsValidUtf8(first.display_name));
  NormalizeEnvelopeAddress(in);
  return 0;
}
