// config.cc - see config.h.
#include "config.h"

#include <charconv>

namespace threadmill::handlers::common {

std::optional<int64_t> ConfigInt(const nlohmann::json& config, const char* key, int64_t fallback,
                                 int64_t min, int64_t max, std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  int64_t value = 0;
  bool ok = false;
  if (it->is_number_integer()) {
    value = it->get<int64_t>();
    ok = true;
  } else if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    ok = ec == std::errc() && end == s.data() + s.size();
  }
  if (!ok || value < min || value > max) {
    *error = std::string(key) + ": expected an integer from " + std::to_string(min) + " to " +
             std::to_string(max);
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> ConfigString(const nlohmann::json& config, const char* key,
                                        const std::string& fallback, std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    *error = std::string(key) + ": expected a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<bool> ConfigBool(const nlohmann::json& config, const char* key, bool fallback,
                               std::string* error) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string() && (*it == "true" || *it == "false")) return *it == "true";
  *error = std::string(key) + ": expected true or false";
  return std::nullopt;
}

std::optional<std::vector<std::string>> ConfigStringList(const nlohmann::json& config,
                                                         const char* key, std::string* error) {
  std::vector<std::string> out;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
    return out;
  }
  if (it->is_array()) {
    for (const auto& item : *it) {
      if (!item.is_string()) {
        *error = std::string(key) + ": expected an array of strings";
        return std::nullopt;
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  *error = std::string(key) + ": expected a string or an array of strings";
  return std::nullopt;
}

std::optional<nlohmann::json> ParseConfig(std::string_view config_json, std::string* error) {
  if (config_json.empty()) return nlohmann::json::object();
  nlohmann::json config = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    *error = "configuration is not a JSON object";
    return std::nullopt;
  }
  return config;
}

}  // namespace threadmill::handlers::common
