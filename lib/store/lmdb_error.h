// lmdb_error.h - turns LMDB return codes into threadmill Errors.
//
// DESCRIPTION
//   Conditions a later retry can cure (map full at its maximum, reader table full, busy,
//   out of memory) become ErrorCode::kTemporary; everything else kStore. Messages read
//   "lmdb: <what>: <mdb_strerror>".
#pragma once

#include <string_view>

#include "common/result.h"

namespace threadmill::store {

// Thread-safe; pure.
Error LmdbError(int rc, std::string_view what);

}  // namespace threadmill::store
