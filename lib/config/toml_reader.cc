#include "config/toml_reader.h"

namespace threadmill::config {

TomlReader::TomlReader(const toml::table* table, std::string path, std::string file)
    : table_(table), path_(std::move(path)), file_(std::move(file)) {}

void TomlReader::Fail(const std::string& key, const std::string& what) const {
  throw ConfigError(file_ + ": " + path_ + (key.empty() ? "" : "." + key) + ": " + what);
}

void TomlReader::Get(const std::string& key, bool* out) const {
  const toml::node* node = table_ ? table_->get(key) : nullptr;
  if (!node) return;
  if (!node->is_boolean()) Fail(key, "must be true or false");
  *out = node->as_boolean()->get();
}

void TomlReader::Get(const std::string& key, std::string* out) const {
  const toml::node* node = table_ ? table_->get(key) : nullptr;
  if (!node) return;
  if (!node->is_string()) Fail(key, "must be a string");
  *out = node->as_string()->get();
}

void TomlReader::Get(const std::string& key, int64_t* out, int64_t min, int64_t max) const {
  const toml::node* node = table_ ? table_->get(key) : nullptr;
  if (!node) return;
  if (!node->is_integer()) Fail(key, "must be an integer");
  int64_t v = node->as_integer()->get();
  if (v < min || v > max) {
    Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  *out = v;
}

void TomlReader::Get(const std::string& key, std::vector<std::string>* out) const {
  const toml::node* node = table_ ? table_->get(key) : nullptr;
  if (!node) return;
  const toml::array* array = node->as_array();
  if (!array) Fail(key, "must be an array of strings");
  std::vector<std::string> values;
  for (const toml::node& item : *array) {
    if (!item.is_string()) Fail(key, "must be an array of strings");
    values.push_back(item.as_string()->get());
  }
  *out = std::move(values);
}

void TomlReader::RejectUnknown(const std::set<std::string>& known) const {
  if (!table_) return;
  for (const auto& [key, node] : *table_) {
    std::string name(key.str());
    if (!known.count(name)) Fail(name, "unknown key");
  }
}

}  // namespace threadmill::config
