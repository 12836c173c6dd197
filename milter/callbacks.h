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

}  // namespace threadmill::milter
