// loader.h - loads handler modules (.so) from the handlers directory, refusing unsafe ones.
//
// DESCRIPTION
//   LoadModules reads every "*.so" in the directory (sorted by name) and loads each one that
//   passes every check; each refusal is ONE log line "handler module PATH refused: WHY":
//     - a symbolic link or not a regular file;
//     - not owned by root (uid 0; LoaderOptions::owner_uid), or writable by group or others
//       (the directory too: a group/world-writable directory refuses every module in it);
//     - dlopen() fails (missing library, undefined symbol...);
//     - no entry symbol threadmill_handler_v1, or it returns NULL;
//     - another ABI major than THREADMILL_ABI_MAJOR (an equal or newer minor is accepted; an
//       older minor too, reading only the members its struct_size covers);
//     - a table smaller than ABI 1.0's, a bad name ([a-z0-9_-]+, <= 64 bytes), no
//       on_inbound;
//     - a name already loaded from another file (the first file, by name order, wins).
//   The checks use fstat() of the opened file; after dlopen() the path must still name the
//   same inode, so a file swapped between check and load is refused.
//
//   Modules are loaded in the supervisor; workers inherit them through fork() and call each
//   handler's init() in their own process on first use.
//
// LIMITS
//   dlopen() runs the module's constructors in the supervisor: modules are trusted code
//   (root-owned); the checks guard against mistakes and other users, not against root.
//   Unloading (dlclose on reload) assumes the module left no threads or atexit handlers.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/runtime_config.h"
#include "threadmill/handler.h"

namespace threadmill::runtime {

struct LoaderOptions {
  uid_t owner_uid = 0;  // modules must be owned by this uid (root)
};

class LoadedModule {
 public:
  LoadedModule(std::string path, void* dl, const threadmill_handler* table);
  ~LoadedModule();
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  const threadmill_handler* table() const { return table_; }
  uint32_t minor() const { return table_->abi_minor; }
  // Optional members, NULL when unset or beyond the module's struct_size.
  using HeartbeatFn = int (*)(threadmill_ctx*);
  using FiniFn = void (*)(void*);
  HeartbeatFn on_heartbeat() const;
  FiniFn fini() const;

 private:
  std::string path_;
  std::string name_;
  void* dl_;
  const threadmill_handler* table_;
};

struct ModuleSet {
  std::vector<std::unique_ptr<LoadedModule>> modules;
  const LoadedModule* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
};

// Checks and loads one file. The error message is the refusal reason.
Result<std::unique_ptr<LoadedModule>> LoadModule(const std::string& path,
                                                 const LoaderOptions& options = {});

// Loads every acceptable module of `dir` (see file comment); logs each load and refusal.
ModuleSet LoadModules(const std::string& dir, const LoaderOptions& options = {});

}  // namespace threadmill::runtime
