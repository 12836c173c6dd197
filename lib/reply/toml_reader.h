// toml_reader.h - typed reads from one table of Config::document, with config-style errors.
//
// DESCRIPTION
//   The [reply], [runtime], [handlers], [handler.NAME] and [[routes]] sections are reserved by
//   lib/config for the handler runtime, which parses them itself. TomlReader reads typed values
//   from one table, rejects unknown keys, and throws config::ConfigError with
//   "FILE: section.key: what is wrong" messages (start-up and reload time only).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"

namespace threadmill::reply {

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
  void Get(const std::string& key, std::vector<std::string>* out) const;

  // Throws when the table holds a key outside `known`.
  void RejectUnknown(const std::set<std::string>& known) const;

  const toml::table* table() const { return table_; }

 private:
  const toml::table* table_;
  std::string path_;
  std::string file_;
};

// The file name used in messages for a snapshot ("config" when unknown).
std::string ConfigFileName(const config::Config& config);

// The table at `name` in the document, null when absent; throws when it is not a table.
const toml::table* SectionTable(const config::Config& config, const std::string& name);

}  // namespace threadmill::reply
