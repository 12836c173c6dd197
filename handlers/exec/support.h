// support.h - small helpers shared by the exec and webhook handlers: logging through the host,
// reading the [handler.NAME] JSON config, and keeping SIGPIPE away from the worker.
//
// DESCRIPTION
//   HostLog formats nothing itself; it hands one line to host->log and swallows nothing
//   else. Config readers accept a JSON number or a numeric string (config may come from TOML
//   either way) and report a readable error for anything else. SigpipeBlock blocks SIGPIPE in
//   the calling thread for its lifetime and discards a SIGPIPE that its scope raised, so a
//   write to a pipe or socket whose reader is gone fails with EPIPE instead of killing the
//   worker process.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "threadmill/handler.h"

namespace threadmill::handlers::exec {

// One line to host->log (no-op when the host has no log function).
void HostLog(threadmill_ctx* ctx, const threadmill_host_api* host, int level,
             const std::string& line);

// host->last_error(ctx) or "" when unavailable.
std::string HostLastError(threadmill_ctx* ctx, const threadmill_host_api* host);

// True when the host table is for ABI major 1 and long enough to hold `member_end` bytes.
bool HostHas(const threadmill_host_api* host, size_t member_end);

// init() receives the host table once; the callbacks after it get only the context. Keep()
// checks the table (ABI major 1, at least up to last_error) and keeps it for the process's
// life (the host guarantees the same table to every call); Get() returns it (null before).
class HostTable {
 public:
  bool Keep(const threadmill_host_api* host);
  const threadmill_host_api* Get() const { return host_.load(); }

 private:
  std::atomic<const threadmill_host_api*> host_{nullptr};
};

// Reads config key `key`: absent → fallback; a number or numeric string within [min, max] →
// its value; anything else → std::nullopt and *error says why.
std::optional<int64_t> ConfigInt(const nlohmann::json& config, const char* key, int64_t fallback,
                                 int64_t min, int64_t max, std::string* error);

// Reads a string key: absent → fallback; a string → it; else std::nullopt and *error.
std::optional<std::string> ConfigString(const nlohmann::json& config, const char* key,
                                        const std::string& fallback, std::string* error);

// Reads a boolean: absent → fallback; true/false or "true"/"false" → it; else std::nullopt.
std::optional<bool> ConfigBool(const nlohmann::json& config, const char* key, bool fallback,
                               std::string* error);

// Reads a list of strings: absent → empty; one string → a list of it; an array of strings →
// them; else std::nullopt and *error.
std::optional<std::vector<std::string>> ConfigStringList(const nlohmann::json& config,
                                                         const char* key, std::string* error);

// Parses config_json (NULL or "" is an empty table). On error returns std::nullopt.
std::optional<nlohmann::json> ParseConfig(const char* config_json, std::string* error);

// Blocks SIGPIPE in this thread while alive; a SIGPIPE raised meanwhile is consumed.
class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
  bool active_ = false;
};

}  // namespace threadmill::handlers::exec
