// handler_status.cc - see handler_status.h.
#include "runtime/handler_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace threadmill::runtime {

std::string LoadedHandlersPath(const std::string& spool_dir) {
  return spool_dir + "/handlers.loaded";
}

Status WriteLoadedHandlers(const std::string& spool_dir, const std::vector<std::string>& names) {
  std::string path = LoadedHandlersPath(spool_dir);
  std::string tmp = path + ".tmp";
  std::string text;
  for (const std::string& name : names) text += name + "\n";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    return MakeError(ErrorCode::kInternal, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;  // not UniqueFd: close()'s error counts here
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    unlink(tmp.c_str());
    return MakeError(ErrorCode::kInternal, "cannot write " + path + ": " + why);
  }
  return {};
}

std::optional<std::set<std::string>> ReadLoadedHandlers(const std::string& spool_dir) {
  std::ifstream in(LoadedHandlersPath(spool_dir));
  if (!in) return std::nullopt;
  std::set<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) names.insert(line);
  }
  return names;
}

}  // namespace threadmill::runtime
