// json_lines.cc - see json_lines.h.
#include "json_lines.h"

#include "envelope_json.h"

namespace threadmill::handlers::common {
namespace {

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

ProgramLine Invalid(std::string why) {
  ProgramLine out;
  out.error = std::move(why);
  return out;
}

}  // namespace

LineBuffer::Next LineBuffer::Pop(std::string* line) {
  for (;;) {
    size_t nl = buf_.find('\n');
    if (nl == std::string::npos) return buf_.size() > max_ ? Next::kTooLong : Next::kNone;
    size_t len = nl > 0 && buf_[nl - 1] == '\r' ? nl - 1 : nl;
    if (len > max_) return Next::kTooLong;
    std::string_view view(buf_.data(), len);
    if (IsBlank(view)) {
      buf_.erase(0, nl + 1);
      continue;
    }
    line->assign(view);
    buf_.erase(0, nl + 1);
    return Next::kLine;
  }
}

std::string JsonLine(const nlohmann::json& object) {
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string StartLine(const std::vector<std::string>& calls) {
  return JsonLine({{"type", "start"}, {"protocol", kBridgeProtocolVersion}, {"calls", calls}});
}

std::string InboundLine(uint64_t id, const threadmill_envelope& envelope) {
  return JsonLine({{"type", "inbound"}, {"id", id}, {"envelope", EnvelopeToJson(envelope)}});
}

std::string HeartbeatLine(uint64_t id) { return JsonLine({{"type", "heartbeat"}, {"id", id}}); }

std::string AnswerLine(const nlohmann::json& req, const nlohmann::json& answer) {
  // Built as text so "req" comes first (nlohmann::json orders object keys).
  std::string body = answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string head =
      "{\"req\":" + req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (body.size() > 2) head += ",";
  return head + body.substr(1) + "\n";
}

ProgramLine ParseProgramLine(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Invalid("not JSON");
  if (!j.is_object()) return Invalid("not a JSON object");
  auto call = j.find("call");
  auto done = j.find("done");
  if (call != j.end() && done != j.end()) return Invalid("both \"call\" and \"done\"");
  ProgramLine out;
  if (done != j.end()) {
    if (!done->is_number_unsigned()) return Invalid("\"done\" is not an event id");
    out.done = done->get<uint64_t>();
    auto status = j.find("status");
    if (status != j.end() && !status->is_null()) {
      if (!status->is_string()) return Invalid("\"status\" is not a string");
      const std::string& s = status->get_ref<const std::string&>();
      if (s == "ok") {
        out.status = ProgramLine::Status::kOk;
      } else if (s == "retry") {
        out.status = ProgramLine::Status::kRetry;
      } else if (s == "fail") {
        out.status = ProgramLine::Status::kFail;
      } else {
        return Invalid("unknown status \"" + s + "\" (ok, retry or fail)");
      }
    }
    auto reason = j.find("reason");
    if (reason != j.end() && reason->is_string()) out.reason = reason->get<std::string>();
    out.kind = ProgramLine::Kind::kDone;
    return out;
  }
  if (call == j.end()) return Invalid("neither \"call\" nor \"done\"");
  if (!call->is_string() || call->get_ref<const std::string&>().empty()) {
    return Invalid("\"call\" is not a non-empty string");
  }
  auto req = j.find("req");
  if (req != j.end() && !req->is_null()) {
    if (!req->is_number_integer() && !req->is_string()) {
      return Invalid("\"req\" is neither a number nor a string");
    }
    out.req = *req;
  }
  out.call = call->get<std::string>();
  out.request = std::move(j);
  out.kind = ProgramLine::Kind::kCall;
  return out;
}

}  // namespace threadmill::handlers::common
