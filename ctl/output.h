// output.h - threadmillctl's two output forms: aligned text for people, JSON for scripts.
#pragma once

#include <nlohmann/json.hpp>

#include "ctl/terminal_text.h"
#include "store/records.h"

namespace threadmill::ctl {

nlohmann::ordered_json ToJson(const store::MessageRecord& record);
nlohmann::ordered_json ToJson(const store::ThreadRecord& record);

// JSON text of `value`, pure ASCII (non-ASCII as \u escapes, so no C1 control or bidi
// override reaches a terminal printing it raw); invalid UTF-8 becomes U+FFFD (never throws).
std::string JsonText(const nlohmann::ordered_json& value, int indent);

// Prints `value` as JSON (json=true) or as "key: value" lines / a table of rows.
void Print(const nlohmann::ordered_json& value, bool json);

}  // namespace threadmill::ctl
