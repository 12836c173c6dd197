// echo.h - the outbound echo: a reinjected reply seen passing back through the milter.
//
// DESCRIPTION
//   When the MTA hands a reinjected reply to threadmill's own milter (non_smtpd_milters), the
//   milter records that Message-ID as outbound with the MTA's queue id. The reply's own record
//   (written by the replier) has no queue id, so a queue id on an outbound record is the proof
//   that the MTA holds the reply (docs/decisions.md "Exactly one reply"). The replier waits
//   for it; `threadmillctl replies list|release` shows it and refuses to release a reply the
//   MTA already has (that would send it twice).
//
// LIMITS
//   One lookup in the thread store; a store error reads as "not seen".
#pragma once

#include <string>

#include "store/thread_store.h"

namespace threadmill::reply {

// The MTA's queue id of message_id's outbound echo, or "" when none was seen (yet).
std::string OutboundEcho(const store::ThreadStore& threads, const std::string& message_id);

}  // namespace threadmill::reply
