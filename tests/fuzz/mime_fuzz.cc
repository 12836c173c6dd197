// mime_fuzz.cc - libFuzzer target: whole messages through the MIME walker (lib/mail/mime on
// mimetic, with mime_guard, rfc2231, rfc2047, transfer encodings, charsets, HTML).
// Invariants: subject, text and file names are valid UTF-8; caps hold; every attachment
// listed can be extracted with the size listed.
#include "fuzz_check.h"
#include "mail/charset.h"
#include "mail/mime.h"

using namespace threadmill::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = FuzzInput(data, size);
  ParseLimits limits;
  limits.max_parts = 50;
  limits.max_nested_containers = 16;
  limits.max_text_bytes = 64 * 1024;
  limits.max_part_fields = 50;
  limits.max_part_field_bytes = 2048;
  limits.max_part_header_bytes = 8192;
  ParsedMessage m = ParseMessage(in, limits);
  FUZZ_CHECK(IsValidUtf8(m.subject));
  FUZZ_CHECK(IsValidUtf8(m.text));
  FUZZ_CHECK(m.text.size() <= limits.max_text_bytes);
  FUZZ_CHECK(IsValidUtf8(m.from.display_name));
  FUZZ_CHECK(m.attachments.size() <= limits.max_parts);
  for (const auto& a : m.attachments) FUZZ_CHECK(IsValidUtf8(a.filename));
  if (!m.attachments.empty()) {
    const Attachment& a = m.attachments.front();
    auto bytes = ExtractAttachment(in, a.file_id, limits);
    FUZZ_CHECK(bytes.ok());
    FUZZ_CHECK(bytes->size() == a.size);
  }
  return 0;
}
