// runtime_test_util.h - helpers of the runtime tests: temporary store, fixture modules copied
// into a root-owned handlers directory, messages.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/environment.h"

namespace threadmill::testing {

inline std::string FixturePath(const std::string& name) {
  return std::string(THREADMILL_FIXTURE_DIR) + "/fixture_" + name + ".so";
}

// Copies fixture `name` to dir/file (mode 0644, owned by root when we are root).
inline std::string InstallFixture(const std::string& dir, const std::string& name,
                                  std::string file = "") {
  if (file.empty()) file = name + ".so";
  std::string to = dir + "/" + file;
  std::filesystem::copy_file(FixturePath(name), to,
                             std::filesystem::copy_options::overwrite_existing);
  chmod(to.c_str(), 0644);
  return to;
}

inline std::shared_ptr<store::Environment> OpenTestEnv(const std::string& path) {
  store::EnvOptions options;
  options.path = path;
  options.map_size_bytes = size_t{32} << 20;
  auto env = store::Environment::Open(options);
  if (!env.ok()) throw std::runtime_error(env.error().message);
  return *env;
}

inline std::string Message(const std::string& id, const std::string& subject,
                           const std::string& extra_headers = "") {
  return "From: Alice <alice@example.org>\r\nTo: help@example.com\r\nSubject: " + subject +
         "\r\nMessage-ID: <" + id + ">\r\nReferences: <root@example.com>\r\n" + extra_headers +
         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello there.\r\n"
         "\r\nOn Monday, Bob wrote:\r\n> old text\r\n";
}

}  // namespace threadmill::testing
