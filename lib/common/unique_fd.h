// unique_fd.h - UniqueFd, a move-only owner of one file descriptor.
//
// DESCRIPTION
//   Closes its descriptor when destroyed or reset, so no early return leaks one. get() lends
//   it (the UniqueFd still owns it), release() gives it up (the caller closes it).
//   MakePipe() opens a pipe straight into two owners.
//
// LIMITS
//   close() errors are ignored (POSIX leaves the descriptor's state unspecified after EINTR,
//   and Linux has closed it): a writer that must know its data reached the disk calls
//   fsync() before letting the UniqueFd go.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace threadmill {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership: returns the descriptor (or -1) and leaves this empty.
  int release() { return std::exchange(fd_, -1); }
  // Closes the owned descriptor (if any) and takes `fd`.
  void reset(int fd = -1) {
    int old = std::exchange(fd_, fd);
    if (old >= 0 && old != fd) ::close(old);
  }

 private:
  int fd_ = -1;
};

// pipe2(flags) into two owners. False (errno set, both left empty) when it fails.
inline bool MakePipe(UniqueFd* read_end, UniqueFd* write_end, int flags = O_CLOEXEC) {
  int fds[2];
  if (pipe2(fds, flags) != 0) return false;
  read_end->reset(fds[0]);
  write_end->reset(fds[1]);
  return true;
}

}  // namespace threadmill
