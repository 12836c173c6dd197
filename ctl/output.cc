// output.cc - threadmillctl's text and JSON output (see output.h). Text is escaped for the
// terminal (terminal_text.h); JSON replaces invalid UTF-8 with U+FFFD so it always parses.
#include "ctl/output.h"

#include <cstdio>
#include <ctime>
#include <iostream>

#include "ctl/terminal_text.h"

namespace threadmill::ctl {
namespace {

std::string Text(const nlohmann::ordered_json& value, bool multiline = false) {
  if (value.is_string()) return TerminalText(value.get_ref<const std::string&>(), multiline);
  if (value.is_array()) {
    std::string joined;
    for (const auto& item : value) {
      if (!joined.empty()) joined += ", ";
      joined += Text(item);
    }
    return joined;
  }
  return TerminalText(JsonText(value, -1));
}

std::string Time(int64_t unix_time) {
  std::time_t t = unix_time;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void PrintObject(const nlohmann::ordered_json& object, const std::string& indent) {
  size_t width = 0;
  for (const auto& [key, value] : object.items()) width = std::max(width, key.size());
  for (const auto& [key, value] : object.items()) {
    if (value.is_object()) {
      std::cout << indent << TerminalText(key) << ":\n";
      PrintObject(value, indent + "  ");
      continue;
    }
    if (value.is_array() && !value.empty() && value.front().is_object()) {
      std::cout << indent << TerminalText(key) << ":\n";
      for (const auto& item : value) {
        PrintObject(item, indent + "  ");
        std::cout << '\n';
      }
      continue;
    }
    std::string text = Text(value, key == "text" || key == "html");
    if ((key == "time" || key == "created" || key == "updated") && value.is_number()) {
      text = Time(value.get<int64_t>()) + " (" + text + ")";
    }
    std::cout << indent << TerminalText(key) << std::string(width - key.size() + 1, ' ') << text
              << '\n';
  }
}

}  // namespace

nlohmann::ordered_json ToJson(const store::MessageRecord& r) {
  return {{"msgid", "<" + r.msgid + ">"},
          {"thread", r.thread_id},
          {"direction", store::ToString(r.direction)},
          {"time", r.time},
          {"owner", r.owner},
          {"from", r.from},
          {"to", r.to},
          {"subject", r.subject},
          {"parent", r.parent.empty() ? "" : "<" + r.parent + ">"},
          {"match", r.match},
          {"queue_id", r.queue_id}};
}

nlohmann::ordered_json ToJson(const store::ThreadRecord& r) {
  return {{"thread", r.thread_id},         {"created", r.created},
          {"updated", r.updated},          {"owner", r.owner},
          {"subject", r.subject},          {"messages", r.message_count},
          {"participants", r.participants}};
}

std::string JsonText(const nlohmann::ordered_json& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/true,
                    nlohmann::ordered_json::error_handler_t::replace);
}

void Print(const nlohmann::ordered_json& value, bool json) {
  if (json) {
    std::cout << JsonText(value, 2) << '\n';
    return;
  }
  PrintObject(value, "");
}

}  // namespace threadmill::ctl
