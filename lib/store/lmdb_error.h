// lmdb_error.h - turns LMDB return codes into threadmill Errors.
//
// DESCRIPTION
//   Conditions a later retry can cure (map full at its maximum, reader table full, busy,
//   out of memory) become ErrorCode::kTemporary; everything else kStore. Messages read
//   "lmdb: <what>: <mdb_strerror>", followed by what to do for the errors an administrator
//   can fix (permissions, read-only filesystem, no space, reader table full).
//   CheckDiskSpace() turns an I/O failure of a full filesystem into what it is: LMDB reports
//   a short write as EIO ("Input/output error"), so after a failed write the store's
//   filesystem is looked at (statvfs) and a full one is named, with its free space.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace threadmill::store {

// Thread-safe; pure.
Error LmdbError(int rc, std::string_view what);

// After a failed write on the store at `path`: when its filesystem has less than
// kLowSpaceBytes free (for unprivileged users) returns `error` re-worded as "no space left
// on device" with the free space and the fix; otherwise `error` unchanged. Thread-safe.
inline constexpr unsigned long long kLowSpaceBytes = 1ull << 20;
Error CheckDiskSpace(Error error, const std::string& path);

}  // namespace threadmill::store
