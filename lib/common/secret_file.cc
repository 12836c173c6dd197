#include "common/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace threadmill {

Result<std::string> ReadSecretFile(const std::string& path, size_t min_bytes) {
  auto fail = [&](const std::string& why) {
    return MakeError(ErrorCode::kPermission, "key file " + path + ": " + why);
  };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fail(std::strerror(errno));
  struct stat st {};
  bool is_file = ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
  std::string key;
  size_t got = 0;
  if (is_file && (st.st_mode & 077) == 0 && (st.st_uid == 0 || st.st_uid == ::geteuid())) {
    key.assign(kMaxSecretFileBytes + 1, '\0');
    while (got < key.size()) {
      ssize_t n = ::read(fd.get(), key.data() + got, key.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  }
  fd.reset();
  if (!is_file) return fail("not a regular file");
  if ((st.st_mode & 077) != 0) return fail("is group or world accessible (chmod 600 it)");
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) return fail("is not owned by root");
  if (got > kMaxSecretFileBytes) return fail("longer than 4096 bytes");
  key.resize(got);
  while (!key.empty() &&
         (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) {
    key.pop_back();
  }
  if (key.size() < min_bytes) return fail("shorter than " + std::to_string(min_bytes) + " bytes");
  return key;
}

}  // namespace threadmill
