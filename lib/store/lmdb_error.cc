// lmdb_error.cc - see lmdb_error.h.
#include "store/lmdb_error.h"

#include <lmdb.h>

#include <cerrno>
#include <string>

namespace threadmill::store {

Error LmdbError(int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kStore;
  switch (rc) {
    case MDB_MAP_FULL:
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_MAP_RESIZED:
    case EAGAIN:
    case EBUSY:
    case ENOMEM:
    case EINTR:
      code = ErrorCode::kTemporary;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = ErrorCode::kPermission;
      break;
    default:
      break;
  }
  std::string message = "lmdb: ";
  message.append(what);
  message += ": ";
  message += mdb_strerror(rc);
  return MakeError(code, std::move(message));
}

}  // namespace threadmill::store
