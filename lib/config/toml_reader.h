// toml_reader.h - typed reads from one TOML table, with configuration-style errors.
//
// DESCRIPTION
//   Every section of threadmill.conf is read through a TomlReader: lib/config's own sections
//   and the ones the handler runtime parses itself ([reply], [runtime], [handlers],
//   [handler.NAME], [[routes]]). It reads typed values, range-checks integers, rejects
//   unknown keys, and throws ConfigError with "FILE: section.key: what is wrong" messages
//   (start-up and reload time only).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/config_error.h"

namespace threadmill::config {

class TomlReader {
 public:
  // `table` may be null (section absent: every Get keeps its default). `path` is the key
  // path used in messages ("reply", "handler.helpdesk", "routes[2]").
  TomlReader(const toml::table* table, std::string path, std::string file);

  [[noreturn]] void Fail(const std::string& key, const std::string& what) const;

  void Get(const std::string& key, bool* out) const;
  void Get(const std::string& key, std::string* out) const;
  // Integers must lie in [min, max].
  void Get(const std::string& key, int64_t* out, int64_t min, int64_t max) const;
  // Any other integer type, range-checked the same way.
  template <typename T>
  void GetInt(const std::string& key, T* out, int64_t min, int64_t max) const {
    int64_t value = static_cast<int64_t>(*out);
    Get(key, &value, min, max);
    *out = static_cast<T>(value);
  }
  void Get(const std::string& key, std::vector<std::string>* out) const;

  // Throws when the table holds a key outside `known`.
  void RejectUnknown(const std::set<std::string>& known) const;

  const toml::table* table() const { return table_; }

 private:
  const toml::table* table_;
  std::string path_;
  std::string file_;
};

}  // namespace threadmill::config
