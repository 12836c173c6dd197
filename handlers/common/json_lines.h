// json_lines.h - the JSON-lines codec of the bridge protocol (exec's session mode): splitting a
// byte stream into capped lines, the lines threadmill writes, and parsing the lines a program
// writes. See handlers/exec/README.md ("Session mode") for the protocol.
//
// DESCRIPTION
//   threadmill writes one JSON object per line:
//     {"type":"start","protocol":1,"calls":["kv_get",...]}          once, when the program starts
//     {"type":"inbound","id":N,"envelope":{...}}                       an inbound message
//     {"type":"heartbeat","id":N}                                      a heartbeat
//     {"req":K,"ok":true,...} / {"req":K,"ok":false,"error":"..."}     the answer to a call
//   The program writes one JSON object per line:
//     {"call":"NAME","req":K,...arguments}   a host call; "req" (a number or string) is echoed
//                                            in the answer; without "req" no answer is written
//     {"done":N,"status":"ok"|"retry"|"fail","reason":"..."}   ends event N ("ok" by default)
//   Blank lines are ignored; a line may end in CRLF. Anything else is a protocol error.
//
// LIMITS
//   LineBuffer keeps at most max_line_bytes of an unfinished line; a longer line is reported
//   (kTooLong) and the stream cannot be resynchronised: the caller ends the session.
//   JSON text is encoded with invalid UTF-8 replaced by U+FFFD; it never throws on bad input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "threadmill/handler.h"

namespace threadmill::handlers::common {

inline constexpr int kBridgeProtocolVersion = 1;

// Splits appended bytes into lines of at most max_line_bytes (without the line end).
class LineBuffer {
 public:
  explicit LineBuffer(size_t max_line_bytes) : max_(max_line_bytes) {}
  enum class Next { kLine, kNone, kTooLong };
  void Append(std::string_view bytes) { buf_.append(bytes); }
  // kLine: *line is the next non-blank line (CR LF or LF removed); kNone: no complete line
  // yet; kTooLong: a line (complete or not) is longer than the cap.
  Next Pop(std::string* line);
  void Clear() { buf_.clear(); }
  size_t pending() const { return buf_.size(); }

 private:
  size_t max_;
  std::string buf_;
};

// One line as JSON text with its "\n" (never throws on invalid UTF-8: U+FFFD).
std::string JsonLine(const nlohmann::json& object);

std::string StartLine(const std::vector<std::string>& calls);
std::string InboundLine(uint64_t id, const threadmill_envelope& envelope);
std::string HeartbeatLine(uint64_t id);
// `answer` is {"ok":...} (bridge_calls.h AnswerJson); "req" is put first.
std::string AnswerLine(const nlohmann::json& req, const nlohmann::json& answer);

// One line from the program.
struct ProgramLine {
  enum class Kind { kCall, kDone, kInvalid };
  enum class Status { kOk, kRetry, kFail };
  Kind kind = Kind::kInvalid;
  // kCall: the whole request object, its "call" name, and "req" (null: no answer wanted).
  nlohmann::json request;
  std::string call;
  nlohmann::json req;
  // kDone: the event id, its status and the program's optional reason.
  uint64_t done = 0;
  Status status = Status::kOk;
  std::string reason;
  // kInvalid: why.
  std::string error;
};

// Parses one line (without its line end). Never throws.
ProgramLine ParseProgramLine(std::string_view line);

}  // namespace threadmill::handlers::common
