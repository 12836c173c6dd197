// IncomingMessage tests: bounded memory while a message arrives (issue 8 item 13), the one
// durable file the job queue links per job (item 7), and cleanup of temporary names.
#include "runtime/incoming_message.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/job_queue.h"
#include "support/temp_dir.h"

namespace threadmill::runtime {
namespace {

size_t TempFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().extension() == ".tmp";
  return n;
}

struct Case {
  const char* name;
  size_t chunks, chunk_bytes, max_bytes;
  bool want_on_disk, want_complete;
};

TEST(IncomingMessageTest, StreamsLargeMessagesToDisk) {
  for (const auto& c : std::vector<Case>{
           {"small stays in RAM", 4, 1000, 1 << 20, false, true},
           {"large spills", 200, 64 << 10, 64 << 20, true, true},
           {"too large is dropped", 200, 64 << 10, 1 << 20, false, false},
       }) {
    testing::TempDir dir;
    std::string want;
    {
      IncomingMessage message(dir.str(), c.max_bytes, 64 << 10);
      for (size_t i = 0; i < c.chunks; ++i) {
        std::string chunk(c.chunk_bytes, static_cast<char>('a' + i % 26));
        message.Append(chunk);
        want += chunk;
      }
      EXPECT_EQ(message.on_disk(), c.want_on_disk) << c.name;
      EXPECT_EQ(message.complete(), c.want_complete) << c.name;
      EXPECT_EQ(TempFiles(dir.str()), c.want_on_disk ? 1u : 0u) << c.name;
      if (c.want_complete) {
        auto contents = message.Contents();
        ASSERT_TRUE(contents.ok()) << c.name;
        EXPECT_TRUE(*contents == want) << c.name;
        auto path = message.Persist();
        ASSERT_TRUE(path.ok()) << c.name;
        struct stat st {};
        ASSERT_EQ(stat(path->c_str(), &st), 0);
        EXPECT_EQ(static_cast<size_t>(st.st_size), want.size());
        EXPECT_EQ(st.st_mode & 0777, 0640u);
      } else {
        EXPECT_TRUE(message.too_large());
        EXPECT_FALSE(message.Persist().ok());
      }
    }
    EXPECT_EQ(TempFiles(dir.str()), 0u) << c.name << ": the temporary name outlived the message";
  }
}

TEST(IncomingMessageTest, UnwritableSpoolFailsWithoutThrowing) {
  IncomingMessage message("/nonexistent/spool", 1 << 30, 16);
  message.Append(std::string(100, 'x'));
  EXPECT_TRUE(message.failed());
  EXPECT_FALSE(message.complete());
  EXPECT_FALSE(message.Persist().ok());
}

TEST(IncomingMessageTest, StaleTemporariesAreRemovedAtStart) {
  testing::TempDir dir;
  store::EnvOptions options;
  options.path = dir.str();
  options.map_size_bytes = 1 << 20;
  auto env = store::Environment::Open(options);
  ASSERT_TRUE(env.ok());
  JobQueue queue(*env, dir.str() + "/spool");
  auto* leftover = new IncomingMessage(dir.str() + "/spool", 1 << 20, 0);
  leftover->Append("crashed before its end");
  EXPECT_EQ(TempFiles(dir.str() + "/spool"), 1u);
  EXPECT_EQ(queue.RemoveStaleIncoming(), 1u);
  EXPECT_EQ(TempFiles(dir.str() + "/spool"), 0u);
  delete leftover;
}

}  // namespace
}  // namespace threadmill::runtime
