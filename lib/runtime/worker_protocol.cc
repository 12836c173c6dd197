// worker_protocol.cc - see worker_protocol.h.
#include "runtime/worker_protocol.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace threadmill::runtime {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

void PutString(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Cut(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max - 3;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v = (*v << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(4);
    return true;
  }
  bool String(std::string* s, size_t max) {
    uint32_t n = 0;
    if (!U32(&n) || n > data_.size() || n > max) return false;
    s->assign(data_.substr(0, n));
    data_.remove_prefix(n);
    return true;
  }
  bool Done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

Error Bad(const std::string& what) {
  return MakeError(ErrorCode::kInvalidInput, "worker protocol: " + what);
}

}  // namespace

const char* ToString(MessageType type) {
  switch (type) {
    case MessageType::kRunJob:
      return "run-job";
    case MessageType::kRunHeartbeat:
      return "run-heartbeat";
    case MessageType::kExit:
      return "exit";
    case MessageType::kResult:
      return "result";
    case MessageType::kReinjectStart:
      return "reinject-start";
    case MessageType::kReinjectEnd:
      return "reinject-end";
    case MessageType::kRetiring:
      return "retiring";
  }
  return "unknown";
}

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDone:
      return "done";
    case Outcome::kRetry:
      return "retry";
    case Outcome::kPark:
      return "park";
    case Outcome::kDefer:
      return "defer";
  }
  return "retry";
}

Result<std::string> EncodeFrame(const WorkerMessage& m) {
  std::string out;
  out.push_back(static_cast<char>(kWorkerProtocolVersion));
  out.push_back(static_cast<char>(m.type));
  switch (m.type) {
    case MessageType::kRunJob:
    case MessageType::kRunHeartbeat:
      if (m.name.empty() || m.name.size() > kMaxNameBytes) {
        return Bad(std::string(ToString(m.type)) + ": name empty or longer than " +
                   std::to_string(kMaxNameBytes) + " bytes");
      }
      PutString(&out, m.name);
      break;
    case MessageType::kResult:
      PutU32(&out, static_cast<uint32_t>(m.outcome));
      PutString(&out, Cut(m.reason, kMaxReasonBytes));
      break;
    case MessageType::kReinjectStart:
      PutU32(&out, m.budget_seconds);
      break;
    case MessageType::kExit:
    case MessageType::kReinjectEnd:
    case MessageType::kRetiring:
      break;
  }
  return out;
}

Result<WorkerMessage> DecodeFrame(std::string_view frame) {
  if (frame.size() < 2) return Bad("frame shorter than its header");
  if (frame.size() > kMaxFrameBytes) return Bad("frame too long");
  if (static_cast<uint8_t>(frame[0]) != kWorkerProtocolVersion) {
    return Bad("version " + std::to_string(static_cast<unsigned char>(frame[0])) + ", expected " +
               std::to_string(kWorkerProtocolVersion));
  }
  WorkerMessage m;
  uint8_t type = static_cast<uint8_t>(frame[1]);
  Reader r(frame.substr(2));
  bool ok = true;
  switch (type) {
    case static_cast<uint8_t>(MessageType::kRunJob):
    case static_cast<uint8_t>(MessageType::kRunHeartbeat):
      m.type = static_cast<MessageType>(type);
      ok = r.String(&m.name, kMaxNameBytes) && !m.name.empty();
      break;
    case static_cast<uint8_t>(MessageType::kResult): {
      m.type = MessageType::kResult;
      uint32_t outcome = 0;
      ok = r.U32(&outcome) && outcome <= static_cast<uint32_t>(Outcome::kDefer) &&
           r.String(&m.reason, kMaxFrameBytes);
      m.outcome = static_cast<Outcome>(outcome);
      break;
    }
    case static_cast<uint8_t>(MessageType::kReinjectStart):
      m.type = MessageType::kReinjectStart;
      ok = r.U32(&m.budget_seconds);
      break;
    case static_cast<uint8_t>(MessageType::kExit):
    case static_cast<uint8_t>(MessageType::kReinjectEnd):
    case static_cast<uint8_t>(MessageType::kRetiring):
      m.type = static_cast<MessageType>(type);
      break;
    default:
      return Bad("unknown message type " + std::to_string(type));
  }
  if (!ok) return Bad(std::string(ToString(m.type)) + ": truncated or bad field");
  if (!r.Done()) return Bad(std::string(ToString(m.type)) + ": trailing bytes");
  return m;
}

Status SendMessage(int fd, const WorkerMessage& message) {
  auto frame = EncodeFrame(message);
  if (!frame.ok()) return frame.error();
  for (;;) {
    if (send(fd, frame->data(), frame->size(), MSG_NOSIGNAL) >= 0) return {};
    if (errno == EINTR) continue;
    return MakeError(ErrorCode::kInternal, std::string("send: ") + std::strerror(errno));
  }
}

Result<std::optional<WorkerMessage>> ReceiveMessage(int fd, bool dont_wait) {
  std::vector<char> buf(kMaxFrameBytes + 1);
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), dont_wait ? MSG_DONTWAIT : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::optional<WorkerMessage>{};
    if (n < 0) return MakeError(ErrorCode::kInternal, std::string("recv: ") + std::strerror(errno));
    if (n == 0) return MakeError(ErrorCode::kNotFound, "peer closed the socket");
    auto decoded = DecodeFrame(std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!decoded.ok()) return decoded.error();
    return std::optional<WorkerMessage>(std::move(*decoded));
  }
}

}  // namespace threadmill::runtime
