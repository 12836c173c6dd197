#include "runtime/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "log/logger.h"

namespace threadmill::runtime {
namespace {

// Size of ABI 1.0's threadmill_handler: everything up to and including fini.
constexpr size_t kMinTableSize = offsetof(threadmill_handler, fini) + sizeof(void (*)(void*));

bool ValidName(const char* name) {
  if (!name) return false;
  size_t n = strnlen(name, 65);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

Error Refuse(std::string why) { return MakeError(ErrorCode::kRefused, std::move(why)); }

}  // namespace

LoadedModule::LoadedModule(std::string path, void* dl, const threadmill_handler* table)
    : path_(std::move(path)), name_(table->name), dl_(dl), table_(table) {}

LoadedModule::~LoadedModule() {
  if (dl_) dlclose(dl_);
}

LoadedModule::HeartbeatFn LoadedModule::on_heartbeat() const {
  if (table_->struct_size < offsetof(threadmill_handler, on_heartbeat) + sizeof(void*)) {
    return nullptr;
  }
  return table_->on_heartbeat;
}

LoadedModule::FiniFn LoadedModule::fini() const {
  if (table_->struct_size < kMinTableSize) return nullptr;
  return table_->fini;
}

const LoadedModule* ModuleSet::Find(const std::string& name) const {
  for (const auto& m : modules) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

std::vector<std::string> ModuleSet::Names() const {
  std::vector<std::string> out;
  for (const auto& m : modules) out.push_back(m->name());
  return out;
}

// A symbolic link (how an administrator enables a packaged handler, so package upgrades reach
// it) is followed only when the link is root's and nobody else can change what it leads to:
// every directory from / to the target is root's and not writable by group or others, unless
// it is sticky (like /tmp: others cannot rename or remove root's entries there).
Result<std::string> ResolveLink(const std::string& path, const LoaderOptions& options) {
  struct stat link;
  if (lstat(path.c_str(), &link) != 0) {
    return Refuse(std::string("cannot stat: ") + std::strerror(errno));
  }
  if (!S_ISLNK(link.st_mode)) return path;
  if (link.st_uid != options.owner_uid) return Refuse("symbolic link not owned by root");
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return Refuse(std::string("dangling symbolic link: ") + std::strerror(errno));
  std::string target(real);
  free(real);
  for (std::string dir = target.substr(0, target.rfind('/'));;
       dir = dir.substr(0, dir.rfind('/'))) {
    std::string check = dir.empty() ? "/" : dir;
    struct stat st;
    if (stat(check.c_str(), &st) != 0) {
      return Refuse("cannot stat " + check + ": " + std::strerror(errno));
    }
    bool writable = st.st_mode & (S_IWGRP | S_IWOTH);
    if (st.st_uid != options.owner_uid || (writable && !(st.st_mode & S_ISVTX))) {
      return Refuse("symbolic link to " + target + ", whose directory " + check +
                    " others could change (not root's, or group/world-writable)");
    }
    if (dir.empty()) break;
  }
  return target;
}

Result<std::unique_ptr<LoadedModule>> LoadModule(const std::string& listed_path,
                                                 const LoaderOptions& options) {
  auto resolved = ResolveLink(listed_path, options);
  if (!resolved.ok()) return resolved.error();
  const std::string& path = *resolved;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Refuse(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Refuse(std::string("cannot stat: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Refuse("not a regular file");
  }
  if (st.st_uid != options.owner_uid) {
    close(fd);
    return Refuse("not owned by root (owner uid " + std::to_string(st.st_uid) + ")");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Refuse(std::string("writable by group or others (mode ") + mode + ")");
  }
  // dlopen() by path (glibc matches already-loaded objects by name, so /proc/self/fd/N
  // names would collide), then make sure the loaded file is the one checked.
  dlerror();
  void* dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  struct stat again;
  bool same =
      stat(path.c_str(), &again) == 0 && again.st_dev == st.st_dev && again.st_ino == st.st_ino;
  close(fd);
  if (!dl) {
    const char* err = dlerror();
    return Refuse(std::string("dlopen failed: ") + (err ? err : "unknown error"));
  }
  if (!same) {
    dlclose(dl);
    return Refuse("file replaced while being loaded");
  }
  auto entry = reinterpret_cast<threadmill_handler_entry_fn>(dlsym(dl, THREADMILL_HANDLER_ENTRY));
  if (!entry) {
    dlclose(dl);
    return Refuse(std::string("missing entry symbol ") + THREADMILL_HANDLER_ENTRY);
  }
  const threadmill_handler* table = entry();
  if (!table) {
    dlclose(dl);
    return Refuse(std::string(THREADMILL_HANDLER_ENTRY) + "() returned NULL");
  }
  if (table->abi_major != THREADMILL_ABI_MAJOR) {
    uint32_t major = table->abi_major, minor = table->abi_minor;
    dlclose(dl);
    return Refuse("built for ABI " + std::to_string(major) + "." + std::to_string(minor) +
                  ", threadmill speaks ABI major " + std::to_string(THREADMILL_ABI_MAJOR));
  }
  if (table->struct_size < kMinTableSize) {
    dlclose(dl);
    return Refuse("handler table too small (" + std::to_string(table->struct_size) + " bytes)");
  }
  if (!ValidName(table->name)) {
    dlclose(dl);
    return Refuse("bad handler name (want [a-z0-9_-]+, at most 64 bytes)");
  }
  if (!table->on_inbound) {
    dlclose(dl);
    return Refuse("no on_inbound function");
  }
  return std::make_unique<LoadedModule>(listed_path, dl, table);
}

ModuleSet LoadModules(const std::string& dir, const LoaderOptions& options) {
  ModuleSet set;
  struct stat dst;
  if (stat(dir.c_str(), &dst) != 0) {
    log::Get().warn("handlers directory {} unusable: {}; no handlers loaded", dir,
                    std::strerror(errno));
    return set;
  }
  if (dst.st_mode & (S_IWGRP | S_IWOTH)) {
    log::Get().error(
        "handlers directory {} refused: writable by group or others; no handlers "
        "loaded",
        dir);
    return set;
  }
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0) files.push_back(name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::string path = dir + "/" + file;
    auto loaded = LoadModule(path, options);
    if (!loaded.ok()) {
      log::Get().error("handler module {} refused: {}", path, loaded.error().message);
      continue;
    }
    if (const LoadedModule* other = set.Find((*loaded)->name())) {
      log::Get().error(
          "handler module {} refused: duplicate handler name \"{}\" (already "
          "loaded from {})",
          path, (*loaded)->name(), other->path());
      continue;
    }
    log::Get().info("handler {} loaded from {} (ABI {}.{})", (*loaded)->name(), path,
                    (*loaded)->table()->abi_major, (*loaded)->minor());
    set.modules.push_back(std::move(*loaded));
  }
  return set;
}

}  // namespace threadmill::runtime
