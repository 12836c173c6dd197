// records.cc - see records.h.
#include "store/records.h"

#include <exception>
#include <nlohmann/json.hpp>

namespace threadmill::store {
namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Parses an object or returns a kStore error naming `what`.
Result<json> ParseObject(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(ErrorCode::kStore, std::string("store: corrupt ") + what + " record");
  }
  return j;
}

template <typename T>
void Read(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = it->get<T>();
}

}  // namespace

const char* ToString(Direction direction) {
  return direction == Direction::kOutbound ? "outbound" : "inbound";
}

std::string EncodeMessage(const MessageRecord& rec) {
  json j = {{"v", kRecordVersion},     {"msgid", rec.msgid},
            {"thread", rec.thread_id}, {"dir", ToString(rec.direction)},
            {"owner", rec.owner},      {"time", rec.time},
            {"from", rec.from},        {"to", rec.to},
            {"subject", rec.subject},  {"parent", rec.parent},
            {"qid", rec.queue_id}};
  if (!rec.thread_index.empty()) j["tix"] = rec.thread_index;
  if (!rec.match.empty()) j["match"] = rec.match;
  return Dump(j);
}

Result<MessageRecord> DecodeMessage(std::string_view text) {
  Result<json> parsed = ParseObject(text, "message");
  if (!parsed.ok()) return parsed.error();
  const json& j = *parsed;
  try {
    MessageRecord rec;
    std::string dir;
    Read(j, "msgid", rec.msgid);
    Read(j, "thread", rec.thread_id);
    Read(j, "dir", dir);
    rec.direction = dir == "outbound" ? Direction::kOutbound : Direction::kInbound;
    Read(j, "owner", rec.owner);
    Read(j, "time", rec.time);
    Read(j, "from", rec.from);
    Read(j, "to", rec.to);
    Read(j, "subject", rec.subject);
    Read(j, "parent", rec.parent);
    Read(j, "qid", rec.queue_id);
    Read(j, "tix", rec.thread_index);
    Read(j, "match", rec.match);
    return rec;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kStore, std::string("store: corrupt message record: ") + e.what());
  }
}

std::string EncodeThread(const ThreadRecord& rec) {
  json j = {{"v", kRecordVersion},
            {"thread", rec.thread_id},
            {"created", rec.created},
            {"updated", rec.updated},
            {"owner", rec.owner},
            {"subject", rec.subject},
            {"count", rec.message_count},
            {"recent", rec.recent_msgids},
            {"participants", rec.participants},
            {"tindex", rec.thread_index_roots}};
  return Dump(j);
}

Result<ThreadRecord> DecodeThread(std::string_view text) {
  Result<json> parsed = ParseObject(text, "thread");
  if (!parsed.ok()) return parsed.error();
  const json& j = *parsed;
  try {
    ThreadRecord rec;
    Read(j, "thread", rec.thread_id);
    Read(j, "created", rec.created);
    Read(j, "updated", rec.updated);
    Read(j, "owner", rec.owner);
    Read(j, "subject", rec.subject);
    Read(j, "count", rec.message_count);
    Read(j, "recent", rec.recent_msgids);
    Read(j, "participants", rec.participants);
    Read(j, "tindex", rec.thread_index_roots);
    return rec;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kStore, std::string("store: corrupt thread record: ") + e.what());
  }
}

}  // namespace threadmill::store
