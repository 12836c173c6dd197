// The supervisor<->worker frames: every message round-trips, long reasons are cut at a UTF-8
// boundary, and malformed frames are refused with what is wrong (table-driven).
#include "runtime/worker_protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace threadmill::runtime {
namespace {

bool Same(const WorkerMessage& a, const WorkerMessage& b) {
  return a.type == b.type && a.name == b.name && a.outcome == b.outcome && a.reason == b.reason &&
         a.budget_seconds == b.budget_seconds;
}

TEST(WorkerProtocol, EveryMessageRoundTrips) {
  const std::vector<WorkerMessage> cases = {
      WorkerMessage::RunJob("J01ABCDEFGHJKMNPQRSTV"),
      WorkerMessage::RunHeartbeat("helpdesk"),
      WorkerMessage::Exit(),
      WorkerMessage::Result(Outcome::kDone, ""),
      WorkerMessage::Result(Outcome::kRetry, "handler-retry: DNS said \"later\" \xc3\xa9"),
      WorkerMessage::Result(Outcome::kPark, std::string("nul\0inside", 10)),
      WorkerMessage::Result(Outcome::kDefer, "dns-temperror"),
      WorkerMessage::ReinjectStart(120),
      WorkerMessage::ReinjectEnd(),
  };
  for (const WorkerMessage& want : cases) {
    auto frame = EncodeFrame(want);
    ASSERT_TRUE(frame.ok()) << ToString(want.type);
    auto got = DecodeFrame(*frame);
    ASSERT_TRUE(got.ok()) << ToString(want.type) << ": " << got.error().message;
    EXPECT_TRUE(Same(*got, want)) << ToString(want.type);
  }
}

TEST(WorkerProtocol, LongReasonsAreCutAtACharacterBoundary) {
  std::string reason(kMaxReasonBytes - 4, 'x');
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";  // é, two bytes each
  auto got = DecodeFrame(*EncodeFrame(WorkerMessage::Result(Outcome::kRetry, reason)));
  ASSERT_TRUE(got.ok());
  EXPECT_LE(got->reason.size(), kMaxReasonBytes);
  ASSERT_GE(got->reason.size(), 3u);
  EXPECT_EQ(got->reason.substr(got->reason.size() - 3), "...");
  // No half character before the ellipsis.
  std::string body = got->reason.substr(0, got->reason.size() - 3);
  EXPECT_NE(static_cast<unsigned char>(body.back()), 0xc3);
}

TEST(WorkerProtocol, NamesMustFit) {
  EXPECT_FALSE(EncodeFrame(WorkerMessage::RunJob("")).ok());
  EXPECT_FALSE(EncodeFrame(WorkerMessage::RunJob(std::string(kMaxNameBytes + 1, 'J'))).ok());
  EXPECT_TRUE(EncodeFrame(WorkerMessage::RunJob(std::string(kMaxNameBytes, 'J'))).ok());
}

TEST(WorkerProtocol, MalformedFramesAreRefused) {
  std::string job = *EncodeFrame(WorkerMessage::RunJob("J1"));
  std::string result = *EncodeFrame(WorkerMessage::Result(Outcome::kDone, "ok"));
  struct Case {
    const char* what;
    std::string frame;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"empty", "", "shorter than its header"},
      {"header only half", std::string(1, '\1'), "shorter than its header"},
      {"other version", std::string("\2\3", 2), "version 2"},
      {"unknown type", std::string("\1\x7f", 2), "unknown message type 127"},
      {"truncated length", job.substr(0, 4), "truncated"},
      {"length past the end", job.substr(0, job.size() - 1), "truncated"},
      {"trailing bytes", job + "x", "trailing bytes"},
      {"bad outcome", std::string("\1\4\0\0\0\x09\0\0\0\0", 10), "truncated or bad field"},
      {"result without reason", result.substr(0, 6), "truncated"},
      {"exit with a payload", std::string("\1\3z", 3), "trailing bytes"},
  };
  for (const Case& c : cases) {
    auto got = DecodeFrame(c.frame);
    ASSERT_FALSE(got.ok()) << c.what;
    EXPECT_NE(got.error().message.find(c.error), std::string::npos)
        << c.what << ": " << got.error().message;
  }
}

// Over a real SOCK_SEQPACKET pair: one frame per datagram, EOF reported as kNotFound.
TEST(WorkerProtocol, SendAndReceiveOverASocketPair) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  auto nothing = ReceiveMessage(sv[1], /*dont_wait=*/true);
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
  ASSERT_TRUE(SendMessage(sv[0], WorkerMessage::ReinjectStart(30)).ok());
  ASSERT_TRUE(SendMessage(sv[0], WorkerMessage::Result(Outcome::kPark, "why")).ok());
  auto first = ReceiveMessage(sv[1], false);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->type, MessageType::kReinjectStart);
  EXPECT_EQ((*first)->budget_seconds, 30u);
  auto second = ReceiveMessage(sv[1], false);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->reason, "why");
  close(sv[0]);
  auto eof = ReceiveMessage(sv[1], false);
  ASSERT_FALSE(eof.ok());
  EXPECT_EQ(eof.error().code, ErrorCode::kNotFound);
  close(sv[1]);
}

}  // namespace
}  // namespace threadmill::runtime
