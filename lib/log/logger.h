// logger.h - threadmill's process-wide log setup (spdlog).
//
// DESCRIPTION
//   One logger named "threadmill". Targets: syslog (facility mail by default, so decisions land
//   in the mail log beside the MTA's lines), stderr, or a file. On machines without /dev/log the
//   syslog target silently drops everything, so Configure() warns on stderr when /dev/log is
//   missing. Lines read "<time> threadmill[<pid>]: <message>" on stderr and file targets;
//   syslog adds its own time, ident and pid. A file target is opened at start-up as root, in a
//   directory that may be the service user's: it is opened without following a link anybody
//   but root could change (common/safe_open.h) and refused when it has several hard links.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace threadmill::log {

struct LogOptions {
  std::string target = "syslog";  // "syslog", "stderr" or "file:/path"
  std::string facility = "mail";
  std::string level = "info";
};

// Validates options without side effects; returns an explanation or "".
std::string Validate(const LogOptions& options);

// Replaces the process logger; safe to call again on reload. Throws std::runtime_error when a
// file target cannot be opened, is reached through such a link or has several hard links
// (start-up/reload time only).
void Configure(const LogOptions& options);

// The process logger (a stderr logger until Configure() is called).
spdlog::logger& Get();

}  // namespace threadmill::log
