#include "log/logger.h"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <stdexcept>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

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
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.target.substr(5));
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
