// safe_open.h - open a path one component at a time, following only symbolic links that
// nobody but root can change.
//
// DESCRIPTION
//   Root-phase file operations (pid file, socket directory, the store handed to the service
//   user, handler modules) must not be redirected by a symbolic link that someone else placed
//   or can replace. OpenPath walks an absolute path from "/" with openat(O_NOFOLLOW) per
//   component, so every step starts from the descriptor of the previous one (no
//   check-then-use race on the path), and follows a symbolic link only when
//     - the link is owned by root (or PathPolicy::trusted_uid), and
//     - the directory holding it is a TrustedDirectory (see below),
//   i.e. when nobody but root can change what the link leads to (/var/run -> /run is fine,
//   a link in the service user's own directory is refused). With
//   PathPolicy::trusted_directories every directory passed through, the last one included,
//   must be a TrustedDirectory too: what the path names can then only be changed by root
//   (the handler loader's rule for modules).
//
//   TrustedDirectory: owned by root (or trusted_uid) and not writable by group or others,
//   unless it is sticky (like /tmp: others cannot rename or remove root's entries there).
//
//   The last component is opened with the caller's flags plus O_NOFOLLOW and O_CLOEXEC
//   (O_CREAT creates it if missing); the caller checks what it got with fstat() on the
//   returned descriptor and works on that descriptor (fchown, fchmod, read, write).
//
// LIMITS
//   Linux (O_PATH, AT_EMPTY_PATH, /proc/self/fd). Hard links are not symbolic links: callers
//   that change ownership or modes check st_nlink. Mount points are trusted (only root
//   mounts). At most 40 symbolic links per path, like the kernel.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace threadmill {

struct PathPolicy {
  // Owner trusted besides root (tests running without root pass their own uid).
  uid_t trusted_uid = 0;
  // Every directory on the way must be a TrustedDirectory, not only those holding links.
  bool trusted_directories = false;
};

// Owned by root or policy.trusted_uid, and not group/world-writable unless sticky.
bool TrustedDirectory(const struct stat& st, const PathPolicy& policy);
// Owned by root or policy.trusted_uid.
bool TrustedOwner(uid_t uid, const PathPolicy& policy);

// Opens absolute `path` as described above. `flags` apply to the last component (e.g.
// O_RDONLY | O_DIRECTORY, O_PATH, O_WRONLY | O_CREAT); `mode` is used with O_CREAT.
// Errors (kPermission for a refused link or directory, else kNotFound/kInternal) name the
// component, e.g. "symbolic link /srv/x.so is in /srv, which others can change".
Result<UniqueFd> OpenPath(const std::string& path, int flags, const PathPolicy& policy = {},
                          mode_t mode = 0);

// Changes the mode of what `fd` refers to, O_PATH descriptors included (fchmod() refuses
// those): through /proc/self/fd, which names the inode the descriptor holds, not a path.
Status ChmodFd(int fd, mode_t mode);
// fchownat(fd, "", AT_EMPTY_PATH): works on O_PATH descriptors too.
Status ChownFd(int fd, uid_t uid, gid_t gid);

// "0664": a mode for log lines.
std::string FormatMode(mode_t mode);

}  // namespace threadmill
