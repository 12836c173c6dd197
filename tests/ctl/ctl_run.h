// ctl_run.h - what the threadmillctl tests share: running the real binary (THREADMILLCTL_BIN,
// a compile definition of each test target) and writing the configuration it reads.
//
// Limits: the command line goes through popen (/bin/sh), so arguments must not need quoting
// beyond what the tests write themselves; stderr is merged into the output.
#pragma once

#include <string>

namespace threadmill::ctl {

// Runs the real threadmillctl with `args` (after `env_prefix`, e.g. "EDITOR=x ", given to
// env(1) when not empty); returns its output (stdout and stderr) and sets *status to its
// exit status (-1 when it did not exit normally).
std::string RunCtl(const std::string& args, int* status, const std::string& env_prefix = "");

// Writes a configuration for threadmillctl at `path` whose [store] has `store_path` and then
// the lines `store_extra` (each ending in a newline); returns `path`. It sets [milter]
// user = "": threadmillctl run as root (as the suite is) keeps root instead of dropping to a
// service user this machine may not have; the store is the test's own.
std::string WriteConf(const std::string& path, const std::string& store_path,
                      const std::string& store_extra = "");

// The [store] lines of the PostgreSQL backend at `dsn`.
std::string PostgresqlStore(const std::string& dsn);

}  // namespace threadmill::ctl
