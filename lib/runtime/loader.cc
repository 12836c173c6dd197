#include "runtime/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "common/safe_open.h"
#include "log/logger.h"
#include "runtime/module_catalog.h"

namespace threadmill::runtime {
namespace {

// Size of ABI 1.0's threadmill_handler: everything up to and including fini.
constexpr size_t kMinTableSize = offsetof(threadmill_handler, fini) + sizeof(void (*)(void*));

// Entry symbols of majors 2..kMaxOtherMajor are recognised (and refused with their major);
// there was no major 0.
constexpr int kMaxOtherMajor = 16;

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

LoadedModule::LoadedModule(std::string path, void* dl, const threadmill_handler* table, UniqueFd fd)
    : path_(std::move(path)),
      name_(table->name),
      module_name_(table->name),
      dl_(dl),
      table_(table),
      fd_(std::move(fd)) {}

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

LoadedModule::DraftDecisionFn LoadedModule::on_draft_decision() const {
  if (table_->struct_size < offsetof(threadmill_handler, on_draft_decision) + sizeof(void*)) {
    return nullptr;
  }
  return table_->on_draft_decision;
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

namespace {

PathPolicy ModulePolicy(const LoaderOptions& options) {
  PathPolicy policy;
  policy.trusted_uid = options.owner_uid;
  policy.trusted_directories = true;
  return policy;
}

std::string FdName(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// glibc matches dlopen() names against loaded objects before it opens anything: an object
// loaded earlier from a descriptor with this number that is still mapped (dlclose() does not
// unload everything, e.g. C++ modules with unique symbols) would be returned instead of ours.
// Moves `fd` to a number no loaded object is named after. (An object found by our file's
// identity instead is this very file, already loaded: dlopen() returns it, which is right.)
Status UnusedFdName(UniqueFd& fd) {
  for (int tries = 0; tries < 16; ++tries) {
    std::string name = FdName(fd.get());
    void* loaded = dlopen(name.c_str(), RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    if (!loaded) return {};
    link_map* map = nullptr;
    bool stale =
        dlinfo(loaded, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && name == map->l_name;
    dlclose(loaded);
    if (!stale) return {};
    UniqueFd moved(fcntl(fd.get(), F_DUPFD_CLOEXEC, fd.get() + 1));
    if (!moved) return Refuse(std::string("cannot duplicate descriptor: ") + std::strerror(errno));
    UniqueFd previous = std::move(fd);  // closed after `moved` took a higher number
    fd = std::move(moved);
  }
  return Refuse("no descriptor number free of earlier modules");
}

}  // namespace

namespace {

// Opens `path` (every step checked) and checks the file itself: regular, trusted owner,
// not writable by group or others. `st` gets its fstat().
Result<UniqueFd> OpenChecked(const std::string& path, const LoaderOptions& options,
                             struct stat* st) {
  // O_NONBLOCK: a FIFO in a module's place must not hang the supervisor.
  auto opened = OpenPath(path, O_RDONLY | O_NONBLOCK, ModulePolicy(options));
  if (!opened.ok()) return Refuse(opened.error().message);
  UniqueFd fd = std::move(*opened);
  if (fstat(fd.get(), st) != 0) return Refuse(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st->st_mode)) return Refuse("not a regular file");
  if (!TrustedOwner(st->st_uid, ModulePolicy(options))) {
    return Refuse("not owned by root (owner uid " + std::to_string(st->st_uid) + ")");
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    return Refuse("writable by group or others (mode " + FormatMode(st->st_mode) + ")");
  }
  return fd;
}

// dlopen()s the checked descriptor `fd` and checks its table.
Result<std::unique_ptr<LoadedModule>> LoadChecked(const std::string& path, UniqueFd fd,
                                                  const LoaderOptions& options) {
  Status named = UnusedFdName(fd);
  if (!named.ok()) return named.error();
  if (options.before_load) options.before_load(path);
  // Loaded from the checked descriptor: whatever the path names by now does not matter.
  dlerror();
  void* dl = dlopen(FdName(fd.get()).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char* err = dlerror();
    return Refuse(std::string("dlopen failed: ") + (err ? err : "unknown error"));
  }
  auto entry = reinterpret_cast<threadmill_handler_entry_fn>(dlsym(dl, THREADMILL_HANDLER_ENTRY));
  if (!entry) {
    // Another major's entry symbol ("threadmill_handler_vN"): say which major it was built for.
    std::string why = std::string("missing entry symbol ") + THREADMILL_HANDLER_ENTRY;
    for (int major = 2; major <= kMaxOtherMajor; ++major) {
      if (dlsym(dl, ("threadmill_handler_v" + std::to_string(major)).c_str())) {
        why = "built for ABI " + std::to_string(major) + ", this threadmill speaks " +
              std::to_string(THREADMILL_ABI_MAJOR);
        break;
      }
    }
    dlclose(dl);
    return Refuse(why);
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
  return std::make_unique<LoadedModule>(path, dl, table, std::move(fd));
}

}  // namespace

Result<std::unique_ptr<LoadedModule>> LoadModule(const std::string& path,
                                                 const LoaderOptions& options) {
  struct stat st;
  auto fd = OpenChecked(path, options, &st);
  if (!fd.ok()) return fd.error();
  return LoadChecked(path, std::move(*fd), options);
}

Result<std::unique_ptr<LoadedModule>> LoadModuleFile(const ModuleFile& file,
                                                     const LoaderOptions& options) {
  if (!file.fd || !file.fd->valid()) return Refuse("no descriptor");
  UniqueFd fd(fcntl(file.fd->get(), F_DUPFD_CLOEXEC, 3));
  if (!fd) return Refuse(std::string("cannot duplicate descriptor: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Refuse(std::string("cannot stat: ") + std::strerror(errno));
  // The file checks again, on this descriptor: it may have been changed in place (chmod,
  // rewritten) since the scan.
  if (!TrustedOwner(st.st_uid, ModulePolicy(options))) {
    return Refuse("not owned by root (owner uid " + std::to_string(st.st_uid) + ")");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return Refuse("writable by group or others (mode " + FormatMode(st.st_mode) + ")");
  }
  if (IdentityOf(st) != file.identity) {
    // Rewritten in place (not replaced by a rename): what is there now is all there is.
    log::Get().warn(
        "handler module {} changed in place since the last scan; loading it as it "
        "is now (replace modules by renaming a new file over them, then SIGUSR1)",
        file.path);
  }
  auto loaded = LoadChecked(file.path, std::move(fd), options);
  if (loaded.ok() && !file.name.empty() && (*loaded)->module_name() != file.name) {
    return Refuse("handler name changed from \"" + file.name + "\" to \"" +
                  (*loaded)->module_name() + "\"");
  }
  return loaded;
}

Result<UniqueFd> OpenModuleFile(const std::string& path, const LoaderOptions& options,
                                struct stat* st) {
  return OpenChecked(path, options, st);
}

Result<std::vector<std::string>> ListModuleFiles(const std::string& dir,
                                                 const LoaderOptions& options) {
  // The directory and every parent: root's, not writable by others (modules are checked the
  // same way again when each is opened).
  auto opened = OpenPath(dir, O_RDONLY | O_DIRECTORY, ModulePolicy(options));
  if (!opened.ok()) return opened.error();
  struct stat dst;
  std::string why;
  if (fstat(opened->get(), &dst) != 0) {
    why = std::string("cannot stat: ") + std::strerror(errno);
  } else if (!TrustedOwner(dst.st_uid, ModulePolicy(options))) {
    why = "not owned by root (owner uid " + std::to_string(dst.st_uid) + ")";
  } else if (dst.st_mode & (S_IWGRP | S_IWOTH)) {
    why = "writable by group or others (mode " + FormatMode(dst.st_mode) + ")";
  }
  if (!why.empty()) return Refuse(why);
  std::vector<std::string> files;
  if (DIR* d = fdopendir(opened->get())) {
    opened->release();  // closedir() closes it
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0) files.push_back(name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

ModuleSet LoadModules(const std::string& dir, const LoaderOptions& options) {
  ModuleSet set;
  auto files = ListModuleFiles(dir, options);
  if (!files.ok() && files.error().code == ErrorCode::kNotFound) {
    log::Get().warn("handlers directory {} unusable: {}; no handlers loaded", dir,
                    files.error().message);
    return set;
  }
  if (!files.ok()) {
    log::Get().error("handlers directory {} refused: {}; no handlers loaded", dir,
                     files.error().message);
    return set;
  }
  for (const auto& file : *files) {
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
