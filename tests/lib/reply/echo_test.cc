// The outbound echo (reply/echo.h): which thread-store records prove the MTA holds a reply,
// on a real LMDB environment in a temporary directory (table-driven).
#include "reply/echo.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace threadmill::reply {
namespace {

TEST(OutboundEcho, OnlyAnOutboundRecordWithAQueueIdIsTheEcho) {
  struct Case {
    const char* name;
    bool record;
    store::Direction direction;
    const char* queue_id;
    const char* want;
  };
  const Case cases[] = {
      {"never recorded", false, store::Direction::kOutbound, "", ""},
      // The replier's own record of its reply: no queue id, not proof of anything.
      {"replier's record", true, store::Direction::kOutbound, "", ""},
      // The milter saw it pass as outbound with the MTA's queue id: the MTA has it.
      {"echo", true, store::Direction::kOutbound, "4ABCD12345", "4ABCD12345"},
      {"inbound with queue id", true, store::Direction::kInbound, "4ABCD12345", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    testing::TempDir dir;
    store::EnvOptions options;
    options.path = dir.str();
    options.map_size_bytes = size_t{16} << 20;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    store::ThreadStore threads(*env);
    if (c.record) {
      store::MessageRecord r;
      r.msgid = "tm.reply1@example.com";
      r.direction = c.direction;
      r.time = 100;
      r.from = "help@example.com";
      r.to = {"carol@example.org"};
      r.queue_id = c.queue_id;
      ASSERT_TRUE(threads.RecordMessage(r).ok());
    }
    EXPECT_EQ(OutboundEcho(threads, "tm.reply1@example.com"), c.want);
    EXPECT_EQ(OutboundEcho(threads, "other@example.com"), "");
  }
}

}  // namespace
}  // namespace threadmill::reply
