#include "common/chown_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace threadmill {
namespace {

constexpr int kMaxDepth = 32;

Error Errno(const std::string& what) {
  return MakeError(ErrorCode::kPermission, what + ": " + std::strerror(errno));
}

class Walker {
 public:
  Walker(uid_t uid, gid_t gid) : uid_(uid), gid_(gid) {}

  // `fd` is an open directory or file; `st` its fstat().
  Status Change(int fd, const struct stat& st, const std::string& shown) {
    if (st.st_uid == uid_ && st.st_gid == gid_) return {};
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      report_.skipped.push_back(shown + ": has " + std::to_string(st.st_nlink) +
                                " hard links, ownership not changed");
      return {};
    }
    if (fchownat(fd, "", uid_, gid_, AT_EMPTY_PATH) != 0) return Errno("chown " + shown);
    ++report_.changed;
    return {};
  }

  Status Walk(int dir_fd, const std::string& shown, int depth) {
    if (depth > kMaxDepth) {
      report_.skipped.push_back(shown + ": deeper than " + std::to_string(kMaxDepth) +
                                " levels, not entered");
      return {};
    }
    std::vector<std::string> names;
    {
      UniqueFd listing(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!listing) return Errno("cannot list " + shown);
      std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(listing.get()), closedir);
      if (!dir) return Errno("cannot list " + shown);
      listing.release();  // closedir() closes it
      while (dirent* e = readdir(dir.get())) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
      }
    }
    for (const std::string& name : names) {
      Status entry = Entry(dir_fd, name, shown + "/" + name, depth);
      if (!entry.ok()) return entry;
    }
    return {};
  }

  ChownReport& report() { return report_; }

 private:
  Status Entry(int dir_fd, const std::string& name, const std::string& shown, int depth) {
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno == ENOENT ? Status() : Errno("cannot stat " + shown);
    }
    if (S_ISLNK(st.st_mode)) return {};
    bool directory = S_ISDIR(st.st_mode);
    if (!directory && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
      report_.skipped.push_back(shown + ": not a file, directory, FIFO or socket, left alone");
      return {};
    }
    int flags = directory ? O_RDONLY | O_DIRECTORY : O_PATH;
    UniqueFd fd(openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return {};
      if (errno != ELOOP && errno != ENOTDIR) return Errno("cannot open " + shown);
      report_.skipped.push_back(shown + ": changed while being walked, left alone");
      return {};
    }
    // What was opened is what gets changed; it may differ from what fstatat saw.
    if (fstat(fd.get(), &st) != 0) return Errno("cannot stat " + shown);
    if (S_ISLNK(st.st_mode)) return {};  // replaced by a link meanwhile (O_PATH opens links)
    Status changed = Change(fd.get(), st, shown);
    if (!changed.ok() || !S_ISDIR(st.st_mode)) return changed;
    return Walk(fd.get(), shown, depth + 1);
  }

  uid_t uid_;
  gid_t gid_;
  ChownReport report_;
};

}  // namespace

Result<ChownReport> ChownTree(const std::string& path, uid_t uid, gid_t gid,
                              const PathPolicy& policy) {
  auto top = OpenPath(path, O_RDONLY | O_DIRECTORY, policy);
  if (!top.ok()) return top.error();
  struct stat st;
  if (fstat(top->get(), &st) != 0) return Errno("cannot stat " + path);
  Walker walker(uid, gid);
  Status changed = walker.Change(top->get(), st, path);
  if (!changed.ok()) return changed.error();
  Status walked = walker.Walk(top->get(), path, 0);
  if (!walked.ok()) return walked.error();
  return std::move(walker.report());
}

}  // namespace threadmill
