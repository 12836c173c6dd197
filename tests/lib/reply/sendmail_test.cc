// Reinjection runs the fake sendmail script of fake_sendmail.h (unit test only); its gate
// markers (gate_marker.h) in temporary directories.
#include "reply/sendmail.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "lib/reply/fake_sendmail.h"
#include "reply/gate_marker.h"
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

TEST(Reinjection, OutcomeSaysWhetherTheMtaMayHoldIt) {
  struct Case {
    const char* name;
    int early, status, sleep, timeout;
    ReinjectResult want;
  } cases[] = {
      {"accepted", 0, 0, 0, 10, ReinjectResult::kAccepted},
      {"fails before reading: not queued", 75, 0, 0, 10, ReinjectResult::kNotQueued},
      {"queues then exits 75: ambiguous", 0, 75, 0, 10, ReinjectResult::kAmbiguous},
      {"reads all, then hangs past the time-out: ambiguous", 0, 0, 30, 3,
       ReinjectResult::kAmbiguous},
  };
  for (const auto& c : cases) {
    testing::TempDir dir;
    testing::FakeSendmail fake(dir.str());
    fake.SetEarlyFailure(c.early);
    fake.SetStatus(c.status);
    fake.SetSleep(c.sleep);
    auto r = Reinjection::Prepare({fake.path()}, "a@x.org", {"b@x.org"}, "Subject: x\n\nbody\n");
    ASSERT_TRUE(r.ok()) << c.name;
    EXPECT_GT((*r)->pid(), 0);
    EXPECT_TRUE(ProcessAlive((*r)->pid(), (*r)->start_time())) << c.name;
    ReinjectOutcome out = (*r)->Run(c.timeout);
    EXPECT_EQ(ToString(out.result), std::string(ToString(c.want))) << c.name << ": " << out.detail;
  }
  // A big message the program never reads (the memory file, not a pipe: no EPIPE, no hang).
  auto r = Reinjection::Prepare({"/bin/false"}, "a@x.org", {"b@x.org"}, std::string(1 << 22, 'x'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->Run(5).result, ReinjectResult::kNotQueued);
}

TEST(Reinjection, NeverExecsUnlessRun) {
  // Prepared, then abandoned (the ledger could not record it): sendmail never runs.
  testing::TempDir dir;
  testing::FakeSendmail fake(dir.str());
  pid_t pid = 0;
  uint64_t start = 0;
  {
    auto r = Reinjection::Prepare({fake.path()}, "a@x.org", {"b@x.org"}, "x\n");
    ASSERT_TRUE(r.ok());
    pid = (*r)->pid();
    start = (*r)->start_time();
  }
  EXPECT_FALSE(ProcessAlive(pid, start));
  EXPECT_TRUE(fake.Args().empty());
  EXPECT_TRUE(fake.Messages().empty());
}

TEST(Reinjection, GateMarkerStaysWhenTheGateClosesWithoutRun) {
  // The parent gives up (or dies) before opening the gate: the child exits at the gate and
  // leaves the marker: proof that sendmail never ran.
  testing::TempDir dir;
  testing::FakeSendmail fake(dir.str());
  GateMarkers markers(dir.str() + "/gates");
  auto gate = markers.Create();
  ASSERT_TRUE(gate.ok()) << gate.error().message;
  EXPECT_TRUE(GateMarkers::ValidName(*gate)) << *gate;
  pid_t pid = 0;
  uint64_t start = 0;
  {
    auto r = Reinjection::Prepare({fake.path()}, "a@x.org", {"b@x.org"}, "x\n",
                                  markers.PathOf(*gate));
    ASSERT_TRUE(r.ok()) << r.error().message;
    pid = (*r)->pid();
    start = (*r)->start_time();
    EXPECT_TRUE(ProcessAlive(pid, start));
  }
  EXPECT_FALSE(ProcessAlive(pid, start));
  EXPECT_EQ(markers.Check(*gate), GateMarkers::State::kPresent);
  EXPECT_TRUE(fake.Args().empty());
}

TEST(Reinjection, GateMarkerIsGoneBeforeSendmailRuns) {
  // The program fails when the marker still exists while it runs.
  testing::TempDir dir;
  GateMarkers markers(dir.str() + "/gates");
  auto gate = markers.Create();
  ASSERT_TRUE(gate.ok()) << gate.error().message;
  std::string script = dir.str() + "/sendmail";
  std::ofstream(script) << "#!/bin/sh\n[ -e '" << markers.PathOf(*gate)
                        << "' ] && exit 9\ncat >/dev/null\nexit 0\n";
  chmod(script.c_str(), 0755);
  auto r = Reinjection::Prepare({script}, "a@x.org", {"b@x.org"}, "x\n", markers.PathOf(*gate));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ReinjectOutcome out = (*r)->Run(10);
  EXPECT_EQ(out.result, ReinjectResult::kAccepted) << out.detail;
  EXPECT_EQ(markers.Check(*gate), GateMarkers::State::kAbsent);
}

TEST(Reinjection, GateMarkerInAMissingDirectoryRefusesToPrepare) {
  testing::TempDir dir;
  auto r = Reinjection::Prepare({"/bin/true"}, "a@x.org", {"b@x.org"}, "x\n",
                                dir.str() + "/none/gate-00");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTemporary);
}

TEST(GateMarkers, CreateCheckRemoveAndSweep) {
  testing::TempDir dir;
  GateMarkers off;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.Create().ok());
  EXPECT_EQ(off.Check("gate-00000000000000000000000000000000"), GateMarkers::State::kUnknown);

  GateMarkers markers(dir.str() + "/gates");
  auto a = markers.Create();
  auto b = markers.Create();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(markers.Check(*a), GateMarkers::State::kPresent);
  // Names from the ledger are checked before a path is made of them.
  EXPECT_FALSE(GateMarkers::ValidName("../gate-00000000000000000000000000000000"));
  EXPECT_FALSE(GateMarkers::ValidName("gate-0000000000000000000000000000000G"));
  EXPECT_FALSE(GateMarkers::ValidName("gate-"));
  EXPECT_EQ(markers.Check("../../etc/passwd"), GateMarkers::State::kUnknown);
  markers.Remove(*b);
  EXPECT_EQ(markers.Check(*b), GateMarkers::State::kAbsent);
  markers.Remove(*b);  // twice: fine
  markers.Remove("");

  // Sweep: only unnamed markers old enough; other files are left alone.
  auto c = markers.Create();
  ASSERT_TRUE(c.ok());
  std::ofstream(dir.str() + "/gates/other") << "x";
  int64_t now = static_cast<int64_t>(time(nullptr));
  auto young = markers.Sweep({*a}, now, 3600);
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(*young, 0u);
  auto old = markers.Sweep({*a}, now + 7200, 3600);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(*old, 1u);
  EXPECT_EQ(markers.Check(*a), GateMarkers::State::kPresent);
  EXPECT_EQ(markers.Check(*c), GateMarkers::State::kAbsent);
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/gates/other"));
  auto none = GateMarkers(dir.str() + "/missing").Sweep({}, now, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST(Reinjection, ProcessAliveChecksStartTime) {
  EXPECT_TRUE(ProcessAlive(getpid(), ProcessStartTime(getpid())));
  EXPECT_FALSE(ProcessAlive(getpid(), ProcessStartTime(getpid()) + 1));  // another process
  EXPECT_FALSE(ProcessAlive(0, 0));
  EXPECT_EQ(ProcessStartTime(-5), 0u);
}

}  // namespace
}  // namespace threadmill::reply
