// message_id.h - fresh Message-IDs for mail threadmill tracks or writes.
//
// DESCRIPTION
//   "<YYYYMMDDhhmmss.RANDOM.threadmill@HOST>": the time keeps ids readable in logs, 80 random
//   bits (getrandom) keep them unique across processes and restarts (RFC 5322 section 3.6.4).
#pragma once

#include <string>
#include <string_view>

namespace threadmill::filter {

// The normalized id (no angle brackets) for `host`.
std::string NewMessageId(std::string_view host);

}  // namespace threadmill::filter
