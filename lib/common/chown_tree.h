// chown_tree.h - hand a directory tree to the service user without following any link.
//
// DESCRIPTION
//   The store directory is created and opened as root, then given to the service user so its
//   processes (and threadmillctl) can use it. The tree belongs to that user afterwards, who
//   could plant symbolic links or swap directories to make a path-based recursive chown
//   change files elsewhere (/etc/shadow). ChownTree works on descriptors only: the top is
//   opened with OpenPath (safe_open.h), every entry is examined with fstatat(AT_SYMLINK_
//   NOFOLLOW) in the descriptor of its directory and changed through a descriptor opened with
//   O_NOFOLLOW (fchown / fchownat(AT_EMPTY_PATH)), directories are entered with openat.
//     - symbolic links are neither followed nor changed;
//     - an entry that is not a directory, regular file, FIFO or socket is left alone;
//     - a non-directory with more than one hard link that the user does not already own is
//       left alone (a hard link to a root file must not hand it over);
//     - entries already owned by uid:gid are not touched.
//   Each entry left alone is reported in ChownReport::skipped, one line each.
//
// LIMITS
//   At most 32 directory levels (the store has two). An entry that disappears while the tree
//   is walked is ignored.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "common/safe_open.h"

namespace threadmill {

struct ChownReport {
  size_t changed = 0;
  std::vector<std::string> skipped;  // "PATH: why"
};

// Errors: the top cannot be opened (a refused link, missing, not a directory) or a change
// fails (EPERM: not root).
Result<ChownReport> ChownTree(const std::string& path, uid_t uid, gid_t gid,
                              const PathPolicy& policy = {});

}  // namespace threadmill
