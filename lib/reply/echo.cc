// echo.cc - see echo.h.
#include "reply/echo.h"

namespace threadmill::reply {

std::string OutboundEcho(const store::ThreadStore& threads, const std::string& message_id) {
  auto rec = threads.FindMessage(message_id);
  if (!rec.ok() || !rec->has_value()) return "";
  const store::MessageRecord& r = **rec;
  return r.direction == store::Direction::kOutbound ? r.queue_id : "";
}

}  // namespace threadmill::reply
