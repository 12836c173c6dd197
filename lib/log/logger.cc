#include "log/logger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <stdexcept>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include "common/safe_open.h"
#include "common/unique_fd.h"

namespace threadmill::log {
namespace {

const std::map<std::string, int>& Facilities() {
  static const std::map<std::string, int> facilities = {
      {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  return facilities;
}

constexpr const char* kLinePattern = "%Y-%m-%dT%H:%M:%S.%e threadmill[%P]: %v";

// The current logger; replaced atomically on reload so callers on other threads keep a valid one.
std::atomic<std::shared_ptr<spdlog::logger>>& Slot() {
  static std::atomic<std::shared_ptr<spdlog::logger>> slot{[] {
    auto l = std::make_shared<spdlog::logger>("threadmill",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern(kLinePattern);
    return l;
  }()};
  return slot;
}

// The log file is opened (as root at start-up) without following a link others could change
// (common/safe_open.h) and refused when it has several hard links: its directory may be the
// service user's. spdlog then opens the inode checked here through /proc/self/fd, not the path.
UniqueFd OpenLogFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  PathPolicy policy;
  policy.trusted_uid = geteuid();
  auto fd = OpenPath(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, policy, 0666);
  if (!fd.ok()) throw std::runtime_error("log file " + path + ": " + fd.error().message);
  struct stat st;
  if (fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    throw std::runtime_error("log file " + path + " is not a regular file with a single link");
  }
  return std::move(*fd);
}

}  // namespace

std::string Validate(const LogOptions& options) {
  const std::string& t = options.target;
  if (t != "syslog" && t != "stderr" && t.rfind("file:", 0) != 0) {
    return "log target must be \"syslog\", \"stderr\" or \"file:/path\", not \"" + t + "\"";
  }
  if (t.rfind("file:", 0) == 0 && (t.size() < 6 || t[5] != '/')) {
    return "log target file: needs an absolute path";
  }
  if (Facilities().count(options.facility) == 0) {
    return "unknown syslog facility \"" + options.facility + "\"";
  }
  if (spdlog::level::from_str(options.level) == spdlog::level::off && options.level != "off") {
    return "unknown log level \"" + options.level + "\"";
  }
  return "";
}

void Configure(const LogOptions& options) {
  if (std::string why = Validate(options); !why.empty()) throw std::runtime_error(why);
  spdlog::sink_ptr sink;
  std::string pattern = kLinePattern;
  if (options.target == "syslog") {
    struct stat st;
    if (stat("/dev/log", &st) != 0) {
      Get().warn(
          "log target is syslog but /dev/log does not exist: lines will be lost; "
          "set [log] target = \"stderr\" or \"file:/path\"");
    }
    sink = std::make_shared<spdlog::sinks::syslog_sink_mt>("threadmill", LOG_PID,
                                                           Facilities().at(options.facility),
                                                           /*enable_formatting=*/true);
    pattern = "%v";
  } else if (options.target == "stderr") {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    UniqueFd checked = OpenLogFile(options.target.substr(5));
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>("/proc/self/fd/" +
                                                               std::to_string(checked.get()));
  }
  auto logger = std::make_shared<spdlog::logger>("threadmill", sink);
  logger->set_pattern(pattern);
  logger->set_level(spdlog::level::from_str(options.level));
  logger->flush_on(spdlog::level::trace);  // decision lines must reach the log immediately
  Slot().store(std::move(logger));
}

spdlog::logger& Get() {
  // Each thread holds a reference to the logger it last used, so a concurrent reload cannot
  // free it mid-call; the old logger dies once every thread has moved on.
  thread_local std::shared_ptr<spdlog::logger> cached;
  cached = Slot().load();
  return *cached;
}

}  // namespace threadmill::log
