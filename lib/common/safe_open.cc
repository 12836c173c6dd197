#include "common/safe_open.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

namespace threadmill {
namespace {

constexpr int kMaxLinks = 40;

std::deque<std::string> Split(const std::string& path) {
  std::deque<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

Error Refuse(std::string why) { return MakeError(ErrorCode::kPermission, std::move(why)); }

Error Errno(const std::string& what) {
  int e = errno;
  return MakeError(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                   what + ": " + std::strerror(e));
}

struct Step {
  UniqueFd fd;
  std::string shown;  // the path this directory was reached by
  struct stat st {};
};

std::string Child(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string DescribeDirectory(const std::string& shown, const struct stat& st) {
  return "directory " + shown + " (owner uid " + std::to_string(st.st_uid) + ", mode " +
         FormatMode(st.st_mode) + ")";
}

}  // namespace

std::string FormatMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

bool TrustedOwner(uid_t uid, const PathPolicy& policy) {
  return uid == 0 || uid == policy.trusted_uid;
}

bool TrustedDirectory(const struct stat& st, const PathPolicy& policy) {
  bool writable = st.st_mode & (S_IWGRP | S_IWOTH);
  return S_ISDIR(st.st_mode) && TrustedOwner(st.st_uid, policy) &&
         (!writable || (st.st_mode & S_ISVTX));
}

Result<UniqueFd> OpenPath(const std::string& path, int flags, const PathPolicy& policy,
                          mode_t mode) {
  if (path.empty() || path[0] != '/') {
    return MakeError(ErrorCode::kInvalidInput, "not an absolute path: \"" + path + "\"");
  }
  std::vector<Step> stack;
  Step root{UniqueFd(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)), "/", {}};
  if (!root.fd || fstat(root.fd.get(), &root.st) != 0) return Errno("cannot open /");
  if (policy.trusted_directories && !TrustedDirectory(root.st, policy)) {
    return Refuse(DescribeDirectory("/", root.st) + " could be changed by others");
  }
  stack.push_back(std::move(root));
  std::deque<std::string> todo = Split(path);
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    const Step& dir = stack.back();
    std::string shown = Child(dir.shown, name);
    bool last = todo.empty();
    struct stat st;
    if (fstatat(dir.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (!(errno == ENOENT && last && (flags & O_CREAT))) return Errno("cannot stat " + shown);
    } else if (S_ISLNK(st.st_mode)) {
      if (!TrustedOwner(st.st_uid, policy)) {
        return Refuse("symbolic link " + shown + " is not owned by root (owner uid " +
                      std::to_string(st.st_uid) + ")");
      }
      if (!TrustedDirectory(dir.st, policy)) {
        return Refuse("symbolic link " + shown + " is in a " +
                      DescribeDirectory(dir.shown, dir.st) + " that others can change");
      }
      if (++links > kMaxLinks)
        return MakeError(ErrorCode::kInvalidInput, "too many links: " + path);
      std::vector<char> target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 255) + 2);
      ssize_t n = readlinkat(dir.fd.get(), name.c_str(), target.data(), target.size() - 1);
      if (n < 0) return Errno("cannot read symbolic link " + shown);
      if (n == 0 || static_cast<size_t>(n) >= target.size() - 1) {
        return Refuse("symbolic link " + shown + " changed while being read");
      }
      std::string text(target.data(), static_cast<size_t>(n));
      std::deque<std::string> parts = Split(text);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (text[0] == '/') stack.resize(1);
      continue;
    }
    if (!last) {
      Step next{UniqueFd(openat(dir.fd.get(), name.c_str(),
                                O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)),
                shown,
                {}};
      if (!next.fd || fstat(next.fd.get(), &next.st) != 0) {
        return Errno("cannot open directory " + shown);
      }
      if (policy.trusted_directories && !TrustedDirectory(next.st, policy)) {
        return Refuse(DescribeDirectory(shown, next.st) + " could be changed by others");
      }
      stack.push_back(std::move(next));
      continue;
    }
    UniqueFd fd(openat(dir.fd.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) {
      if (errno == ELOOP) return Refuse(shown + " became a symbolic link while being opened");
      return Errno("cannot open " + shown);
    }
    struct stat got;
    if (fstat(fd.get(), &got) != 0) return Errno("cannot stat " + shown);
    if (policy.trusted_directories && S_ISDIR(got.st_mode) && !TrustedDirectory(got, policy)) {
      return Refuse(DescribeDirectory(shown, got) + " could be changed by others");
    }
    return fd;
  }
  // "/" itself, or a path ending in "." or "..": the directory reached.
  UniqueFd fd(openat(stack.back().fd.get(), ".", flags | O_CLOEXEC, mode));
  if (!fd) return Errno("cannot open " + stack.back().shown);
  return fd;
}

Status ChmodFd(int fd, mode_t mode) {
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  if (chmod(proc.c_str(), mode) != 0) return Errno("chmod");
  return {};
}

Status ChownFd(int fd, uid_t uid, gid_t gid) {
  if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) return Errno("chown");
  return {};
}

}  // namespace threadmill
