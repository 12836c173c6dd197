// lmdb_error.cc - see lmdb_error.h.
#include "store/lmdb_error.h"

#include <lmdb.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <string>

namespace threadmill::store {
namespace {

// What an administrator does about `rc` ("" when nothing specific).
const char* Hint(int rc) {
  switch (rc) {
    case ENOSPC:
    case EDQUOT:
      return " (the store's filesystem is full: free space there or move [store] path)";
    case EIO:
      return " (a full filesystem also shows up as this: check free space with df)";
    case EACCES:
    case EPERM:
      return " (the store directory and its files must belong to [milter] user)";
    case EROFS:
      return " (the store's filesystem is mounted read-only)";
    case MDB_READERS_FULL:
      return " (too many readers: stale slots of killed processes are cleared at the next open)";
    default:
      return "";
  }
}

}  // namespace

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
  message += Hint(rc);
  return MakeError(code, std::move(message));
}

Error CheckDiskSpace(Error error, const std::string& path) {
  struct statvfs fs {};
  if (path.empty() || statvfs(path.c_str(), &fs) != 0) return error;
  unsigned long long free_bytes =
      static_cast<unsigned long long>(fs.f_bavail) * static_cast<unsigned long long>(fs.f_frsize);
  if (free_bytes >= kLowSpaceBytes) return error;
  error.code = ErrorCode::kStore;
  error.message = "store: no space left on device: the filesystem of " + path + " has " +
                  std::to_string(free_bytes) +
                  " bytes free; free space there (or move [store] path to a larger "
                  "filesystem); mail is still delivered per on_store_error (" +
                  error.message + ")";
  return error;
}

}  // namespace threadmill::store
