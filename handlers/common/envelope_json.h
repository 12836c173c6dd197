// envelope_json.h - the inbound envelope as a JSON document, for handlers that hand it to
// another process (exec: a program's stdin; webhook: an HTTP POST body).
//
// DESCRIPTION
//   EnvelopeToJson copies every member of threadmill_envelope that the host's struct_size says
//   exists into a JSON object (field names listed in handlers/exec/README.md). Strings that are
//   not valid UTF-8 are dumped with U+FFFD in place of the bad bytes, never an exception.
//
// LIMITS
//   Attachments are described (file_id, filename, content_type, size), not included: their
//   bytes are only readable through host->attachment_read during the call.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "threadmill/handler.h"

namespace threadmill::handlers::common {

// The envelope as a JSON object. A NULL string member becomes "".
nlohmann::json EnvelopeToJson(const threadmill_envelope& envelope);

// EnvelopeToJson serialised compactly; invalid UTF-8 is replaced, not thrown on.
std::string EnvelopeToJsonText(const threadmill_envelope& envelope);

}  // namespace threadmill::handlers::common
