// module_catalog.h - the handler modules of a handlers directory, checked and probed but not
// loaded in the calling process.
//
// DESCRIPTION
//   ScanModules lists "*.so" of the handlers directory (loader.h: the same directory, owner,
//   mode and link checks), opens each file once and keeps the checked descriptor. It learns
//   each module's table (name, ABI, whether it has on_heartbeat) in a probe: a child process
//   that loads the module from that descriptor (loader.h), reports its table on a pipe and
//   exits, so the caller (the supervisor, `threadmill -n`) never maps a module's code. A file
//   whose identity (device, inode, size, mtime, ctime) is the same as in the `previous` scan
//   keeps that scan's probe and descriptor (no new probe). Each refusal is one log line
//   "handler module PATH refused: WHY", as LoadModules; two files with the same table name:
//   the first by file name wins.
//
// LIMITS
//   A probe that does not answer within kProbeTimeoutMs (a constructor that hangs) is killed
//   and the module refused. Fork per new or changed file: call from a single-threaded process.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace threadmill::runtime {

struct LoaderOptions;

inline constexpr int kProbeTimeoutMs = 10000;

// What tells two versions of a module file apart (a replaced file has a new inode; a file
// rewritten in place a new size, mtime or ctime).
struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};
FileIdentity IdentityOf(const struct stat& st);

struct ModuleFile {
  std::string path;  // in the handlers directory (a link's own name)
  std::string file;  // base name ("exec.so")
  std::string name;  // the table's name ("exec")
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  bool has_heartbeat = false;
  FileIdentity identity;
  std::shared_ptr<UniqueFd> fd;  // the checked descriptor (workers load from a duplicate)
};

struct ModuleCatalog {
  std::vector<std::shared_ptr<const ModuleFile>> modules;  // by file name
  // By table name.
  std::shared_ptr<const ModuleFile> Find(const std::string& name) const;
  // By table name or file name (the `module` key of [handler.NAME]).
  std::shared_ptr<const ModuleFile> FindModule(const std::string& name_or_file) const;
};

// See the file comment. `previous` may be null.
ModuleCatalog ScanModules(const std::string& dir, const LoaderOptions& options,
                          const ModuleCatalog* previous = nullptr);

}  // namespace threadmill::runtime
