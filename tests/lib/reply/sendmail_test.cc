// Reinjection runs the fake sendmail script of fake_sendmail.h (unit test only).
#include "reply/sendmail.h"

#include <gtest/gtest.h>

#include "lib/reply/fake_sendmail.h"
#include "support/temp_dir.h"

namespace threadmill::reply {
namespace {

TEST(Reinject, PassesArgvAndMessage) {
  testing::TempDir dir;
  testing::FakeSendmail fake(dir.str());
  Status st = Reinject({fake.path(), "-C", "/tmp/x y"}, "help@example.com", {"-alice@example.org"},
                       "Subject: hi\n\n.\nbody\n", 10);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(fake.Args().size(), 1u);
  EXPECT_EQ(fake.Args()[0], "-C /tmp/x y -i -f help@example.com -- -alice@example.org");
  EXPECT_EQ(fake.Messages().at(0), "Subject: hi\n\n.\nbody\n");
}

TEST(Reinject, NullSender) {
  testing::TempDir dir;
  testing::FakeSendmail fake(dir.str());
  ASSERT_TRUE(Reinject({fake.path()}, "", {"a@x.org", "b@x.org"}, "x\n", 10).ok());
  EXPECT_EQ(fake.Args()[0], "-i -f <> -- a@x.org b@x.org");
}

TEST(Reinject, ExitStatusIsTemporaryError) {
  testing::TempDir dir;
  testing::FakeSendmail fake(dir.str());
  fake.SetStatus(75);
  Status st = Reinject({fake.path()}, "a@x.org", {"b@x.org"}, "x\n", 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kTemporary);
  EXPECT_NE(st.error().message.find("exit status 75"), std::string::npos);
  EXPECT_NE(st.error().message.find("fake failure"), std::string::npos);
}

TEST(Reinject, TimeoutKills) {
  testing::TempDir dir;
  testing::FakeSendmail fake(dir.str());
  fake.SetSleep(30);
  auto start = std::chrono::steady_clock::now();
  Status st = Reinject({fake.path()}, "a@x.org", {"b@x.org"}, "x\n", 1);
  EXPECT_FALSE(st.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(Reinject, MissingProgram) {
  Status st = Reinject({"/nonexistent/sendmail"}, "a@x.org", {"b@x.org"}, "x\n", 5);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot execute"), std::string::npos);
  EXPECT_FALSE(Reinject({"sendmail"}, "a@x.org", {"b@x.org"}, "x\n", 5).ok());
}

TEST(Reinject, LargeMessageThroughEarlyExit) {
  // A program that exits without reading: EPIPE must not kill the test process.
  Status st = Reinject({"/bin/true"}, "a@x.org", {"b@x.org"}, std::string(1 << 20, 'x'), 5);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace threadmill::reply
