// callbacks.h - libmilter registration: the extern "C" callbacks that translate between the
// MTA's milter conversation and lib/.
//
// DESCRIPTION
//   Each callback is noexcept at the boundary: an exception or failure inside is caught,
//   logged, and answered per the configured failure action (on_internal_error). Only the
//   steps threadmill needs are negotiated (no body, no DATA, no unknown commands) and the MTA
//   is asked not to wait for replies where none can change the outcome, which halves the
//   round trips per message.
#pragma once

#include "milter/service.h"

namespace threadmill::milter {

// Registers threadmill with libmilter (smfi_register). `service` must outlive smfi_main.
// Returns false when libmilter refuses the registration.
bool RegisterCallbacks(Service* service);

// Closes MTA connections that have waited longer than [milter] timeout_seconds for their
// next command. libmilter's pool of workers never times out a connection that is idle
// between commands (smfi_settimeout only bounds reads inside one command), so without this
// an idle session lives as long as the MTA keeps it. The socket is shut down (libmilter
// then ends the session as if the MTA had closed it: abort and close callbacks run).
// Returns how many connections were closed. Thread-safe; called every second by Background.
size_t CloseIdleConnections();

}  // namespace threadmill::milter
