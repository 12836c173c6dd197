// drain.h - counts the mail transactions in flight, so TERM can let them finish.
//
// DESCRIPTION
//   libmilter cannot drain: its own TERM handling (MILTER_STOP) ends the listener, and the
//   Debian build's session worker pool (_FFR_WORKERS_POOL) stops serving every open session
//   at the same moment, so transactions in flight were cut off (Postfix: "can't read
//   SMFIC_BODYEOB reply packet header: Connection reset by peer", 451 or unfiltered mail).
//   So the daemon takes TERM itself (main.cc: the main thread sigwaits TERM/INT/HUP; the
//   kernel prefers the thread-group leader, so libmilter's signal thread never sees them) and
//   drains:
//     1. CloseListener(): the listening socket is replaced (dup2) by a private listening
//        socket nobody connects to, so new connections are refused while libmilter's
//        listener keeps running;
//     2. WaitIdle(): the callbacks mark a transaction begun at MAIL FROM and ended at
//        end-of-message, abort or close; wait until none is left or [milter] drain_seconds;
//     3. smfi_stop(): libmilter closes the rest (idle connections) and smfi_main returns.
//
// THREADING
//   Thread-safe (one mutex).
#pragma once

#include <libmilter/mfapi.h>

#include <chrono>
#include <cstddef>

#include "config/config.h"

namespace threadmill::milter::drain {

void Begin(SMFICTX* ctx);  // idempotent per connection
void End(SMFICTX* ctx);    // idempotent
size_t InFlight();
// Closes the milter's listening socket for clients without libmilter noticing (see above).
// Returns false (and logs) when it was not found.
bool CloseListener(const config::MilterConfig& milter);

// Waits until no transaction is in flight or `timeout` passed, plus up to 200 ms for the last
// answer to be written; returns how many are left.
size_t WaitIdle(std::chrono::milliseconds timeout);

}  // namespace threadmill::milter::drain
