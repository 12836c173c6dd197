// support.cc - see support.h.
#include "support.h"

#include <pthread.h>
#include <cstddef>

#include <cerrno>
#include <charconv>
#include <ctime>

namespace threadmill::handlers::exec {

void HostLog(threadmill_ctx* ctx, const threadmill_host_api* host, int level,
             const std::string& line) {
  if (host && host->log) host->log(ctx, level, line.c_str());
}

std::string HostLastError(threadmill_ctx* ctx, const threadmill_host_api* host) {
  if (!host || !host->last_error) return "";
  const char* reason = host->last_error(ctx);
  return reason ? reason : "";
}

bool HostHas(const threadmill_host_api* host, size_t member_end) {
  return host && host->abi_major == THREADMILL_ABI_MAJOR && host->struct_size >= member_end;
}

bool HostTable::Keep(const threadmill_host_api* host) {
  if (!HostHas(host, offsetof(threadmill_host_api, last_error) + sizeof(host->last_error))) {
    return false;
  }
  host_.store(host);
  return true;
}

std::optional<int64_t> ConfigInt(const nlohmann::json& config, const char* key, int64_t fallback,
                                 int64_t min, int64_t max, std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  int64_t value = 0;
  bool ok = false;
  if (it->is_number_integer()) {
    value = it->get<int64_t>();
    ok = true;
  } else if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    ok = ec == std::errc() && end == s.data() + s.size();
  }
  if (!ok || value < min || value > max) {
    *error = std::string(key) + ": expected an integer from " + std::to_string(min) + " to " +
             std::to_string(max);
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> ConfigString(const nlohmann::json& config, const char* key,
                                        const std::string& fallback, std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    *error = std::string(key) + ": expected a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<bool> ConfigBool(const nlohmann::json& config, const char* key, bool fallback,
                               std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string() && (*it == "true" || *it == "false")) return *it == "true";
  *error = std::string(key) + ": expected true or false";
  return std::nullopt;
}

std::optional<std::vector<std::string>> ConfigStringList(const nlohmann::json& config,
                                                         const char* key, std::string* error) {
  std::vector<std::string> out;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
    return out;
  }
  if (it->is_array()) {
    for (const auto& item : *it) {
      if (!item.is_string()) {
        *error = std::string(key) + ": expected an array of strings";
        return std::nullopt;
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  *error = std::string(key) + ": expected a string or an array of strings";
  return std::nullopt;
}

std::optional<nlohmann::json> ParseConfig(const char* config_json, std::string* error) {
  if (!config_json || !*config_json) return nlohmann::json::object();
  nlohmann::json config = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    *error = "configuration is not a JSON object";
    return std::nullopt;
  }
  return config;
}

SigpipeBlock::SigpipeBlock() {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  active_ = pthread_sigmask(SIG_BLOCK, &block, &old_mask_) == 0;
}

SigpipeBlock::~SigpipeBlock() {
  if (!active_) return;
  if (!was_pending_) {
    // Discard a SIGPIPE raised inside the scope (it is pending because it was blocked).
    sigset_t pending;
    sigemptyset(&pending);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t only;
      sigemptyset(&only);
      sigaddset(&only, SIGPIPE);
      const struct timespec zero = {0, 0};
      int rc;
      do {
        rc = sigtimedwait(&only, nullptr, &zero);
      } while (rc == -1 && errno == EINTR);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace threadmill::handlers::exec
