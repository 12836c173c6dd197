// ctl_run.cc - runs the real threadmillctl and writes its configuration for the ctl tests.
#include "ctl_run.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

namespace threadmill::ctl {

std::string RunCtl(const std::string& args, int* status, const std::string& env_prefix) {
  std::string out;
  const std::string env = env_prefix.empty() ? "" : "env " + env_prefix;
  FILE* p = popen((env + THREADMILLCTL_BIN + " " + args + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

std::string WriteConf(const std::string& path, const std::string& store_path,
                      const std::string& store_extra) {
  std::ofstream(path) << "[milter]\nuser = \"\"\n[store]\npath = \"" << store_path << "\"\n"
                      << store_extra;
  return path;
}

std::string PostgresqlStore(const std::string& dsn) {
  return "backend = \"postgresql\"\ndsn = \"" + dsn + "\"\n";
}

}  // namespace threadmill::ctl
