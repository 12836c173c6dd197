// config.h - reading a handler's [handler.NAME] configuration (the JSON text init receives),
// shared by the shipped handlers.
//
// DESCRIPTION
//   Readers accept a JSON number or a numeric string (config may come from TOML either way)
//   and report a readable error naming the key for anything else. An absent or null key gives
//   the fallback.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace threadmill::handlers::common {

// Reads config key `key`: absent → fallback; a number or numeric string within [min, max] →
// its value; anything else → std::nullopt and *error says why.
std::optional<int64_t> ConfigInt(const nlohmann::json& config, const char* key, int64_t fallback,
                                 int64_t min, int64_t max, std::string* error);

// Reads a string key: absent → fallback; a string → it; else std::nullopt and *error.
std::optional<std::string> ConfigString(const nlohmann::json& config, const char* key,
                                        const std::string& fallback, std::string* error);

// Reads a boolean: absent → fallback; true/false or "true"/"false" → it; else std::nullopt.
std::optional<bool> ConfigBool(const nlohmann::json& config, const char* key, bool fallback,
                               std::string* error);

// Reads a list of strings: absent → empty; one string → a list of it; an array of strings →
// them; else std::nullopt and *error.
std::optional<std::vector<std::string>> ConfigStringList(const nlohmann::json& config,
                                                         const char* key, std::string* error);

// Parses config_json (empty is an empty table). On error returns std::nullopt and *error.
std::optional<nlohmann::json> ParseConfig(std::string_view config_json, std::string* error);

}  // namespace threadmill::handlers::common
