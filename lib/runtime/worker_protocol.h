// worker_protocol.h - the typed messages between the supervisor and its worker processes.
//
// DESCRIPTION
//   One message is one frame, sent as one datagram on the SOCK_SEQPACKET socket pair the
//   supervisor makes for each worker:
//     u8 version (kWorkerProtocolVersion) | u8 type | then the type's fields, each a
//     u32 big-endian length followed by that many bytes (strings) or a fixed-size
//     big-endian integer.
//   supervisor -> worker
//     kRunJob        {job id}          run this job (already claimed: running, attempt counted)
//     kRunHeartbeat  {heartbeat id}    call on_heartbeat of the worker's handler (the id,
//                                      "heartbeat-NAME-N", names it in log lines)
//     kExit          {}                fini() every handler and exit 0
//   worker -> supervisor
//     kResult        {outcome, reason} the current task ended (outcome: done|retry|park)
//     kReinjectStart {budget seconds}  the worker hands a reply to sendmail now: the
//                                      supervisor must not kill it for the job time-out
//                                      before `budget` seconds have passed (see worker.h
//                                      ReportReinjecting, used by lib/runtime/host.cc)
//     kReinjectEnd   {}                reinjection over: the job's own deadline applies again
//   Decoding checks the version, the type, every length against the frame and that nothing
//   is left over; a bad frame is an error (the supervisor then treats the worker as broken).
//
// LIMITS
//   A frame is at most kMaxFrameBytes (64 KiB); reasons longer than kMaxReasonBytes are cut
//   (at a UTF-8 boundary) by the encoder and end in "...". Names (job ids, handler names) over
//   kMaxNameBytes are refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "runtime/job_queue.h"

namespace threadmill::runtime {

inline constexpr uint8_t kWorkerProtocolVersion = 1;
inline constexpr size_t kMaxFrameBytes = 64 * 1024;
inline constexpr size_t kMaxReasonBytes = 4000;
inline constexpr size_t kMaxNameBytes = 256;

enum class MessageType : uint8_t {
  kRunJob = 1,
  kRunHeartbeat = 2,
  kExit = 3,
  kResult = 4,
  kReinjectStart = 5,
  kReinjectEnd = 6,
  kRetiring = 7,  // worker -> supervisor, before a result: it exits after this task
};
const char* ToString(MessageType type);

struct WorkerMessage {
  MessageType type = MessageType::kExit;
  std::string name;                   // kRunJob: job id; kRunHeartbeat: heartbeat id
  Outcome outcome = Outcome::kRetry;  // kResult
  std::string reason;                 // kResult ("" when done)
  uint32_t budget_seconds = 0;        // kReinjectStart

  static WorkerMessage Make(MessageType type) {
    WorkerMessage m;
    m.type = type;
    return m;
  }
  static WorkerMessage RunJob(std::string id) {
    WorkerMessage m = Make(MessageType::kRunJob);
    m.name = std::move(id);
    return m;
  }
  static WorkerMessage RunHeartbeat(std::string handler) {
    WorkerMessage m = Make(MessageType::kRunHeartbeat);
    m.name = std::move(handler);
    return m;
  }
  static WorkerMessage Exit() { return Make(MessageType::kExit); }
  static WorkerMessage Result(Outcome outcome, std::string reason) {
    WorkerMessage m = Make(MessageType::kResult);
    m.outcome = outcome;
    m.reason = std::move(reason);
    return m;
  }
  static WorkerMessage ReinjectStart(uint32_t budget_seconds) {
    WorkerMessage m = Make(MessageType::kReinjectStart);
    m.budget_seconds = budget_seconds;
    return m;
  }
  static WorkerMessage ReinjectEnd() { return Make(MessageType::kReinjectEnd); }
  static WorkerMessage Retiring() { return Make(MessageType::kRetiring); }
};

const char* ToString(Outcome outcome);

// Pure; thread-safe. Errors: kInvalidInput (a name too long).
Result<std::string> EncodeFrame(const WorkerMessage& message);
// Pure; thread-safe. Errors: kInvalidInput with what is wrong with the frame.
Result<WorkerMessage> DecodeFrame(std::string_view frame);

// Sends one frame on a SOCK_SEQPACKET socket (MSG_NOSIGNAL). Errors: kInternal (errno text).
Status SendMessage(int fd, const WorkerMessage& message);
// Receives one frame. nullopt: (with `dont_wait`) nothing is waiting. Errors: kNotFound (the
// peer closed the socket), kInternal (errno), kInvalidInput (bad frame).
Result<std::optional<WorkerMessage>> ReceiveMessage(int fd, bool dont_wait);

}  // namespace threadmill::runtime
