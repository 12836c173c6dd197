// bridge_calls.cc - see bridge_calls.h.
#include "bridge_calls.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "base64.h"

namespace threadmill::handlers::common {
namespace {

using nlohmann::json;

constexpr size_t kListDefault = 100;
constexpr size_t kListMax = 1000;
constexpr size_t kHostListMax = 10000;  // store::kMaxKvListLimit

CallOutcome Bad(const std::string& why) {
  return {HostStatus{THREADMILL_INVALID, "bad-argument: " + why}, json::object()};
}

CallOutcome FromStatus(HostStatus st, json fields = json::object()) {
  return {std::move(st), std::move(fields)};
}

bool ValidUtf8(std::string_view s) {
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 4;
    if (n == 4 || s.size() - i <= n) return false;
    uint32_t cp = n == 0 ? c : c & (0x3f >> n);
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// Puts `bytes` into fields as "value" (UTF-8) or "value_base64".
void PutBytes(json& fields, const std::string& bytes) {
  if (ValidUtf8(bytes)) {
    fields["value"] = bytes;
  } else {
    fields["value_base64"] = Base64Encode(bytes);
  }
}

// A required non-empty string argument.
std::optional<std::string> Str(const json& request, const char* name, std::string* error) {
  auto it = request.find(name);
  if (it == request.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    *error = std::string("\"") + name + "\" must be a non-empty string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

// An optional string argument: absent or null → fallback.
std::optional<std::string> OptStr(const json& request, const char* name, std::string fallback,
                                  std::string* error) {
  auto it = request.find(name);
  if (it == request.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    *error = std::string("\"") + name + "\" must be a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

CallOutcome KvGet(CallScope& s, const json& r) {
  std::string error;
  auto key = Str(r, "key", &error);
  if (!key) return Bad(error);
  auto got = s.ctx.kv_get(*key);
  if (!got) return FromStatus(got.status());
  json fields = {{"found", got->has_value()}};
  if (got->has_value()) PutBytes(fields, **got);
  return FromStatus({}, std::move(fields));
}

CallOutcome KvPut(CallScope& s, const json& r) {
  std::string error;
  auto key = Str(r, "key", &error);
  if (!key) return Bad(error);
  std::string value;
  auto b64 = r.find("value_base64");
  auto v = r.find("value");
  if (b64 != r.end() && v != r.end()) return Bad("give \"value\" or \"value_base64\", not both");
  if (b64 != r.end()) {
    auto decoded = b64->is_string() ? Base64Decode(b64->get_ref<const std::string&>())
                                    : std::optional<std::string>();
    if (!decoded) return Bad("\"value_base64\" is not base64");
    value = std::move(*decoded);
  } else if (v != r.end()) {
    value = v->is_string() ? v->get<std::string>()
                           : v->dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    return Bad("\"value\" or \"value_base64\" is required");
  }
  return FromStatus(s.ctx.kv_put(*key, value));
}

CallOutcome KvDelete(CallScope& s, const json& r) {
  std::string error;
  auto key = Str(r, "key", &error);
  if (!key) return Bad(error);
  HostStatus st = s.ctx.kv_delete(*key);
  if (st.not_found()) return FromStatus({}, {{"deleted", false}});
  if (!st) return FromStatus(st);
  return FromStatus({}, {{"deleted", true}});
}

CallOutcome KvList(CallScope& s, const json& r) {
  std::string error;
  auto prefix = OptStr(r, "prefix", "", &error);
  auto after = OptStr(r, "start_after", "", &error);
  if (!prefix || !after) return Bad(error);
  size_t limit = kListDefault;
  if (auto it = r.find("limit"); it != r.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > static_cast<int64_t>(kListMax)) {
      return Bad("\"limit\" must be a number from 1 to " + std::to_string(kListMax));
    }
    limit = it->get<size_t>();
  }
  bool values = false;
  if (auto it = r.find("include_values"); it != r.end() && !it->is_null()) {
    if (!it->is_boolean()) return Bad("\"include_values\" must be true or false");
    values = it->get<bool>();
  }
  auto keys = s.ctx.kv_list(*prefix, kHostListMax, false);
  if (!keys) return FromStatus(keys.status());
  json items = json::array();
  bool more = false;
  std::string last;
  for (const KvItem& item : *keys) {
    if (!after->empty() && item.key <= *after) continue;
    if (items.size() == limit) {
      more = true;
      break;
    }
    json entry = {{"key", item.key}};
    if (values) {
      auto got = s.ctx.kv_get(item.key);
      if (!got) return FromStatus(got.status());
      if (!got->has_value()) continue;  // deleted meanwhile
      PutBytes(entry, **got);
    }
    last = item.key;
    items.push_back(std::move(entry));
  }
  json fields = {{"items", std::move(items)}, {"more", more}};
  if (more) fields["next"] = last;
  // The host gave its most: keys past them under this prefix were not seen.
  if (!more && keys->size() >= kHostListMax) fields["incomplete"] = true;
  return FromStatus({}, std::move(fields));
}

CallOutcome Send(CallScope& s, const json& r) {
  std::string error;
  std::vector<std::string> to;
  auto it = r.find("to");
  if (it != r.end() && it->is_string()) {
    to.push_back(it->get<std::string>());
  } else if (it != r.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (!a.is_string()) return Bad("\"to\" must be an address or a list of addresses");
      to.push_back(a.get<std::string>());
    }
  }
  if (to.empty() || std::any_of(to.begin(), to.end(), [](const auto& a) { return a.empty(); })) {
    return Bad("\"to\" must be an address or a list of addresses");
  }
  auto subject = Str(r, "subject", &error);
  auto text = subject ? Str(r, "text", &error) : std::nullopt;
  if (!subject || !text) return Bad(error);
  auto thread = s.ctx.send(to, *subject, *text);
  if (!thread) return FromStatus(thread.status());
  return FromStatus({}, {{"thread_id", *thread}});
}

// reply and draft: text, html, message_id (default the current message).
struct ReplyArgs {
  std::string message_id, text, html;
};

std::optional<ReplyArgs> ReplyArguments(CallScope& s, const json& r, std::string* error) {
  auto text = Str(r, "text", error);
  if (!text) return std::nullopt;
  auto html = OptStr(r, "html", "", error);
  std::string current =
      s.envelope && s.envelope->channel_message_id ? s.envelope->channel_message_id : "";
  auto id = html ? OptStr(r, "message_id", current, error) : std::nullopt;
  if (!html || !id) return std::nullopt;
  return ReplyArgs{*id, *text, *html};
}

CallOutcome Reply(CallScope& s, const json& r) {
  std::string error;
  auto a = ReplyArguments(s, r, &error);
  if (!a) return Bad(error);
  if (a->message_id.empty()) return FromStatus({THREADMILL_INVALID, "no-current-message"});
  return FromStatus(s.ctx.reply(a->message_id.c_str(), a->text, a->html));
}

CallOutcome Draft(CallScope& s, const json& r) {
  std::string error;
  auto a = ReplyArguments(s, r, &error);
  if (!a) return Bad(error);
  if (a->message_id.empty()) return FromStatus({THREADMILL_INVALID, "no-current-message"});
  auto id = s.ctx.draft(a->message_id.c_str(), a->text, a->html);
  if (!id) return FromStatus(id.status());
  return FromStatus({}, {{"draft_id", *id}});
}

CallOutcome Attachment(CallScope& s, const json& r) {
  std::string error;
  auto file_id = Str(r, "file_id", &error);
  if (!file_id) return Bad(error);
  auto data = s.ctx.attachment(file_id->c_str());
  if (!data) return FromStatus(data.status());
  return FromStatus({}, {{"data_base64", Base64Encode(*data)}, {"size", data->size()}});
}

CallOutcome RawMessage(CallScope& s, const json&) {
  auto data = s.ctx.raw_message();
  if (!data) return FromStatus(data.status());
  return FromStatus({}, {{"data_base64", Base64Encode(*data)}, {"size", data->size()}});
}

// ABI 1.1 host->thread: "thread_id" (default: the current message's thread).
CallOutcome Thread(CallScope& s, const json& r) {
  std::string error;
  auto id = OptStr(r, "thread_id", "", &error);
  if (!id) return Bad(error);
  auto info = s.ctx.thread(id->empty() ? nullptr : id->c_str());
  if (!info) return FromStatus(info.status());
  json messages = json::array();
  for (const ThreadMessage& m : info->messages) {
    messages.push_back({{"message_id", m.message_id},
                        {"direction", m.outbound ? "outbound" : "inbound"},
                        {"time", m.time},
                        {"from", m.from},
                        {"subject", m.subject},
                        {"in_reply_to", m.in_reply_to}});
  }
  return FromStatus({}, {{"thread_id", info->thread_id},
                         {"subject", info->subject},
                         {"owner", info->owner},
                         {"created", info->created},
                         {"updated", info->updated},
                         {"participants", info->participants},
                         {"messages", std::move(messages)},
                         {"message_total", info->message_total}});
}

CallOutcome ConfigGet(CallScope& s, const json& r) {
  std::string error;
  auto key = Str(r, "key", &error);
  if (!key) return Bad(error);
  auto value = s.ctx.config(key->c_str());
  json fields = {{"found", value.has_value()}};
  if (value) fields["value"] = *value;
  return FromStatus({}, std::move(fields));
}

CallOutcome Log(CallScope& s, const json& r) {
  std::string error;
  auto message = Str(r, "message", &error);
  auto level = message ? OptStr(r, "level", "info", &error) : std::nullopt;
  if (!message || !level) return Bad(error);
  int l = *level == "debug"   ? THREADMILL_LOG_DEBUG
          : *level == "info"  ? THREADMILL_LOG_INFO
          : *level == "warn"  ? THREADMILL_LOG_WARN
          : *level == "error" ? THREADMILL_LOG_ERROR
                              : -1;
  if (l < 0) return Bad("\"level\" must be debug, info, warn or error");
  s.ctx.log(l, *message);
  return FromStatus({});
}

}  // namespace

const std::vector<CallSpec>& CallTable() {
  static const std::vector<CallSpec> table = {
      {"kv_get", &KvGet, false},
      {"kv_put", &KvPut, true},
      {"kv_delete", &KvDelete, true},
      {"kv_list", &KvList, false},
      {"send", &Send, true},
      {"reply", &Reply, true},
      {"draft", &Draft, true},
      {"attachment", &Attachment, false},
      {"raw_message", &RawMessage, false},
      {"thread", &Thread, false},
      {"config_get", &ConfigGet, false},
      {"log", &Log, true},
  };
  return table;
}

const CallSpec* FindCall(std::string_view name) {
  for (const CallSpec& c : CallTable()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::vector<std::string> CallNames() {
  std::vector<std::string> out;
  for (const CallSpec& c : CallTable()) out.emplace_back(c.name);
  return out;
}

CallOutcome RunCall(CallScope& scope, const nlohmann::json& request) {
  auto call = request.find("call");
  if (!request.is_object() || call == request.end() || !call->is_string()) {
    return Bad("\"call\" must name a call");
  }
  const CallSpec* spec = FindCall(call->get_ref<const std::string&>());
  if (!spec) return {HostStatus{THREADMILL_INVALID, "unknown-call"}, json::object()};
  try {
    return spec->run(scope, request);
  } catch (const BadHostResult& e) {
    return {e.status(), json::object()};
  } catch (const nlohmann::json::exception& e) {
    return Bad(e.what());
  }
}

std::string StatusName(int code) {
  switch (code) {
    case THREADMILL_OK:
      return "ok";
    case THREADMILL_REFUSED:
      return "refused";
    case THREADMILL_INVALID:
      return "invalid";
    case THREADMILL_NOT_FOUND:
      return "not_found";
    case THREADMILL_STORE:
      return "store";
    case THREADMILL_INTERNAL:
      return "internal";
    default:
      return "status-" + std::to_string(code);
  }
}

nlohmann::json AnswerJson(const CallOutcome& outcome) {
  if (outcome.status.ok()) {
    json out = {{"ok", true}};
    for (auto it = outcome.fields.begin(); it != outcome.fields.end(); ++it) {
      out[it.key()] = it.value();
    }
    return out;
  }
  return {{"ok", false},
          {"status", StatusName(outcome.status.code)},
          {"error", outcome.status.reason.empty() ? StatusName(outcome.status.code)
                                                  : outcome.status.reason}};
}

}  // namespace threadmill::handlers::common
