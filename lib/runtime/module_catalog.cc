// module_catalog.cc - see module_catalog.h.
#include "runtime/module_catalog.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

#include "common/unique_fd.h"
#include "log/logger.h"
#include "runtime/loader.h"

namespace threadmill::runtime {
namespace {

int64_t Nanos(const timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Loads `file` in a child process and reads back "name major minor heartbeat" or
// "! reason". Fills the table fields of `file`; returns "" or the refusal reason.
std::string Probe(ModuleFile* file, const LoaderOptions& options) {
  UniqueFd read_end, write_end;
  if (!MakePipe(&read_end, &write_end)) return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    read_end.reset();
    std::string out;
    auto loaded = LoadModuleFile(*file, options);
    if (!loaded.ok()) {
      out = "! " + loaded.error().message;
    } else {
      const LoadedModule& m = **loaded;
      out = m.module_name() + " " + std::to_string(m.table()->abi_major) + " " +
            std::to_string(m.minor()) + " " + (m.on_heartbeat() ? "1" : "0");
    }
    ssize_t w = write(write_end.get(), out.data(), out.size());
    _exit(w == static_cast<ssize_t>(out.size()) ? 0 : 1);  // no destructors, no fini
  }
  write_end.reset();
  std::string got;
  int64_t deadline = NowMs() + kProbeTimeoutMs;
  bool timed_out = false;
  for (;;) {
    int64_t left = deadline - NowMs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    char buf[512];
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  read_end.reset();
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return "probe did not answer within " + std::to_string(kProbeTimeoutMs) + " ms";
  if (got.rfind("! ", 0) == 0) return got.substr(2);
  std::istringstream in(got);
  int heartbeat = 0;
  if (!(in >> file->name >> file->abi_major >> file->abi_minor >> heartbeat)) {
    return "probe process failed (" + std::to_string(status) + ")";
  }
  file->has_heartbeat = heartbeat != 0;
  return "";
}

}  // namespace

FileIdentity IdentityOf(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size, Nanos(st.st_mtim), Nanos(st.st_ctim)};
}

std::shared_ptr<const ModuleFile> ModuleCatalog::Find(const std::string& name) const {
  for (const auto& m : modules) {
    if (m->name == name) return m;
  }
  return nullptr;
}

std::shared_ptr<const ModuleFile> ModuleCatalog::FindModule(const std::string& name_or_file) const {
  if (auto m = Find(name_or_file)) return m;
  for (const auto& m : modules) {
    if (m->file == name_or_file) return m;
  }
  return nullptr;
}

ModuleCatalog ScanModules(const std::string& dir, const LoaderOptions& options,
                          const ModuleCatalog* previous) {
  ModuleCatalog catalog;
  auto files = ListModuleFiles(dir, options);
  if (!files.ok()) {
    if (files.error().code == ErrorCode::kNotFound) {
      log::Get().warn("handlers directory {} unusable: {}; no handlers loaded", dir,
                      files.error().message);
    } else {
      log::Get().error("handlers directory {} refused: {}; no handlers loaded", dir,
                       files.error().message);
    }
    return catalog;
  }
  for (const std::string& name : *files) {
    std::string path = dir + "/" + name;
    struct stat st;
    auto fd = OpenModuleFile(path, options, &st);
    if (!fd.ok()) {
      log::Get().error("handler module {} refused: {}", path, fd.error().message);
      continue;
    }
    std::shared_ptr<const ModuleFile> found;
    FileIdentity identity = IdentityOf(st);
    if (previous) {
      for (const auto& m : previous->modules) {
        if (m->path == path && m->identity == identity) found = m;
      }
    }
    if (!found) {
      auto file = std::make_shared<ModuleFile>();
      file->path = path;
      file->file = name;
      file->identity = identity;
      file->fd = std::make_shared<UniqueFd>(std::move(*fd));
      std::string why = Probe(file.get(), options);
      if (!why.empty()) {
        log::Get().error("handler module {} refused: {}", path, why);
        continue;
      }
      found = file;
    }
    if (auto other = catalog.Find(found->name)) {
      log::Get().error(
          "handler module {} refused: duplicate handler name \"{}\" (already loaded from {})", path,
          found->name, other->path);
      continue;
    }
    log::Get().info("handler {} loaded from {} (ABI {}.{})", found->name, path, found->abi_major,
                    found->abi_minor);
    catalog.modules.push_back(found);
  }
  return catalog;
}

}  // namespace threadmill::runtime
