// secret_file.h - reads a key from a file only its owner (root or this process) can read.
//
// DESCRIPTION
//   Keys (the reply-token HMAC keys, issue 11) live in files of their own. A file that is a
//   symbolic link, not a regular file, group or world accessible (any 077 mode bit), owned by
//   someone other than root or the effective user, shorter than `min_bytes` or longer than
//   kMaxSecretFileBytes is refused with an error naming the file and the fix. Trailing
//   white space (a final newline from an editor) is dropped.
//
// LIMITS
//   At most kMaxSecretFileBytes bytes. The key is kept in ordinary memory (not locked).
#pragma once

#include <cstddef>
#include <string>

#include "common/result.h"

namespace threadmill {

inline constexpr size_t kMaxSecretFileBytes = 4096;

Result<std::string> ReadSecretFile(const std::string& path, size_t min_bytes);

}  // namespace threadmill
