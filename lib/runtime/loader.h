// loader.h - loads handler modules (.so) from the handlers directory, refusing unsafe ones.
//
// DESCRIPTION
//   LoadModules reads every "*.so" in the directory (sorted by name) and loads each one that
//   passes every check; each refusal is ONE log line "handler module PATH refused: WHY":
//     - the handlers directory itself: not owned by root, or writable by group or others
//       (sticky or not), refuses every module in it ("handlers directory DIR refused: WHY");
//     - every directory from / to the module (the handlers directory's parents, and those of
//       a link's target) must be root's and not writable by group or others unless sticky;
//     - a symbolic link is followed only when nobody but root can change what it leads to:
//       the link is root's and so is every directory on the way (common/safe_open.h; how an
//       administrator enables a packaged handler, so package upgrades reach it); foreign,
//       dangling and exposed links are refused;
//     - not a regular file; not owned by root (uid 0; or LoaderOptions::owner_uid); writable
//       by group or others;
//     - dlopen() fails (missing library, undefined symbol...);
//     - no entry symbol threadmill_handler_v1, or it returns NULL;
//     - another ABI major than THREADMILL_ABI_MAJOR (an equal or newer minor is accepted; an
//       older minor too, reading only the members its struct_size covers);
//     - a table smaller than ABI 1.0's, a bad name ([a-z0-9_-]+, <= 64 bytes), no
//       on_inbound;
//     - a name already loaded from another file (the first file, by name order, wins).
//   The file is opened once (O_NOFOLLOW, each path step from the previous step's descriptor),
//   the ownership and mode checks use fstat() of that descriptor, and dlopen() loads that same
//   descriptor ("/proc/self/fd/N"): what was checked is what is loaded, and a refused module
//   never runs a constructor. The descriptor stays open while the module is loaded (glibc
//   tells loaded objects apart by name; a stale object still known under a reused
//   "/proc/self/fd/N" name is detected and a fresh descriptor number used).
//
//   The supervisor never loads a module itself: ScanModules (module_catalog.h) opens and
//   checks each file and learns its table in a short-lived probe process; each worker then
//   loads the one module of its handler from the scan's descriptor (LoadModuleFile) and
//   calls that handler's init() in its own process. A reload that finds a file changed
//   (same path, new inode/size/mtime; a link to another target) starts new workers that load
//   the new file: no process keeps running the old code after its last job.
//
// LIMITS
//   dlopen() runs the module's constructors in the probe and in workers: modules are trusted
//   code (root-owned); the checks guard against mistakes and other users, not against root.
//   Needs /proc mounted. Unloading (dlclose on reload) assumes the module left no threads or
//   atexit handlers. Backtraces name a module "/proc/self/fd/N"; the log line at load time
//   names its file.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "runtime/module_catalog.h"
#include "runtime/runtime_config.h"
#include "threadmill/handler.h"

struct stat;

namespace threadmill::runtime {

struct LoaderOptions {
  // Trusted owner of modules, links and directories besides root (tests without root pass
  // their own uid).
  uid_t owner_uid = 0;
  // Called with the path once the opened file passed its checks, right before it is loaded
  // from its descriptor (tests replace the file here). Empty in production.
  std::function<void(const std::string& path)> before_load;
};

class LoadedModule {
 public:
  // `fd` is the descriptor the module was loaded from, kept open while it is loaded.
  LoadedModule(std::string path, void* dl, const threadmill_handler* table, UniqueFd fd = {});
  ~LoadedModule();
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;

  // The handler (instance) name this module serves under: its table's name unless the
  // worker set another (named instances, handler_registry.h). Host calls (kv, drafts, logs)
  // use it.
  const std::string& name() const { return name_; }
  void set_instance(std::string name) { name_ = std::move(name); }
  // The name in the module's table.
  const std::string& module_name() const { return module_name_; }
  const std::string& path() const { return path_; }
  const threadmill_handler* table() const { return table_; }
  uint32_t minor() const { return table_->abi_minor; }
  // Optional members, NULL when unset or beyond the module's struct_size.
  using HeartbeatFn = int (*)(threadmill_ctx*);
  using FiniFn = void (*)(void*);
  HeartbeatFn on_heartbeat() const;
  FiniFn fini() const;
  using DraftDecisionFn = int (*)(threadmill_ctx*, const threadmill_draft_decision*);
  DraftDecisionFn on_draft_decision() const;  // ABI 1.1

 private:
  std::string path_;
  std::string name_;
  std::string module_name_;
  void* dl_;
  const threadmill_handler* table_;
  UniqueFd fd_;  // closed after dlclose (member order: destroyed after ~LoadedModule's body)
};

struct ModuleSet {
  std::vector<std::unique_ptr<LoadedModule>> modules;
  const LoadedModule* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
};

// Checks and loads one file. The error message is the refusal reason.
Result<std::unique_ptr<LoadedModule>> LoadModule(const std::string& path,
                                                 const LoaderOptions& options = {});

// Loads the module a scan found (ScanModules), from a duplicate of the scan's descriptor: the
// owner and mode checks again on it (a file changed in place since the scan is loaded as it is
// now, with a warning), and its table's name must be the one the probe reported. For a worker
// process (and the probe).
Result<std::unique_ptr<LoadedModule>> LoadModuleFile(const ModuleFile& file,
                                                     const LoaderOptions& options = {});

// Opens and checks one module file without loading it (the checks of the file comment that
// need no dlopen). `st` gets its fstat(). The error message is the refusal reason.
Result<UniqueFd> OpenModuleFile(const std::string& path, const LoaderOptions& options,
                                struct stat* st);

// The "*.so" names of a handlers directory, sorted, after checking the directory and its
// parents. Errors: kNotFound (missing), kRefused (why the directory is refused).
Result<std::vector<std::string>> ListModuleFiles(const std::string& dir,
                                                 const LoaderOptions& options = {});

// Loads every acceptable module of `dir` (see file comment); logs each load and refusal.
ModuleSet LoadModules(const std::string& dir, const LoaderOptions& options = {});

}  // namespace threadmill::runtime
