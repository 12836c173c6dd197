// address_fuzz.cc - libFuzzer target: RFC 5322 address lists and SMTP envelope addresses
// (lib/mail/address), and ParseAuthor (the From parser of DMARC and the handler envelope).
// Invariants: display names are valid UTF-8, the cap holds, `single` only for one domain.
#include <vector>

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
  // The one From parser of DMARC and the envelope: the input as one field, and as fields
  // split at line breaks.
  std::vector<std::string_view> fields;
  for (size_t start = 0; start <= in.size() && fields.size() < 8;) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    fields.push_back(in.substr(start, end - start));
    start = end + 1;
  }
  for (const auto& values : {std::vector<std::string_view>{in}, fields}) {
    Author author = ParseAuthor(values, 20);
    FUZZ_CHECK(author.fields == values.size());
    for (const auto& m : author.mailboxes) FUZZ_CHECK(IsValidUtf8(m.display_name));
    if (author.single) FUZZ_CHECK(author.fields == 1 && author.domains.size() == 1);
    FUZZ_CHECK(IsValidUtf8(author.mailbox().display_name));
  }
  return 0;
}
