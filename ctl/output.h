// output.h - threadmillctl's two output forms: aligned text for people, JSON for scripts.
#pragma once

#include <nlohmann/json.hpp>

#include "store/records.h"

namespace threadmill::ctl {

nlohmann::ordered_json ToJson(const store::MessageRecord& record);
nlohmann::ordered_json ToJson(const store::ThreadRecord& record);

// Prints `value` as JSON (json=true) or as "key: value" lines / a table of rows.
void Print(const nlohmann::ordered_json& value, bool json);

}  // namespace threadmill::ctl
