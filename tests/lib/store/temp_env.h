// temp_env.h - a temporary directory (mkdtemp) for store tests, removed afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/environment.h"

namespace threadmill::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tm-store-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Opens an environment in `path` or fails the test.
inline std::shared_ptr<Environment> OpenOrDie(const std::string& path,
                                              size_t map_size = size_t{1} << 20,
                                              size_t max_map = size_t{1} << 30) {
  EnvOptions options;
  options.path = path;
  options.map_size_bytes = map_size;
  options.max_map_size_bytes = max_map;
  auto env = Environment::Open(options);
  EXPECT_TRUE(env.ok()) << (env.ok() ? "" : env.error().message);
  return env.ok() ? *env : nullptr;
}

}  // namespace threadmill::store::testing
