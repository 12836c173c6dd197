// environment_test.cc - open, read-only, map growth, MAP_RESIZED across processes, stale
// readers, callback failures.
#include "store/environment.h"

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "store/keys.h"
#include "store/kv_store.h"
#include "store/thread_store.h"
#include "temp_env.h"

namespace threadmill::store {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

constexpr size_t kTinyMap = size_t{64} << 10;

// Writes `count` values of `size` bytes into meta under "<tag>-<i>", one txn per `per_txn`.
Status Fill(Environment& env, const std::string& tag, int count, size_t size, int per_txn) {
  for (int i = 0; i < count; i += per_txn) {
    Status st = env.Write([&](WriteTxn& txn) -> Status {
      for (int j = i; j < i + per_txn && j < count; ++j) {
        std::string value(size, static_cast<char>('a' + j % 26));
        if (Status s = txn.Put(env.dbi(Db::kSpool), tag + "-" + std::to_string(j), value);
            !s.ok()) {
          return s;
        }
      }
      return {};
    });
    if (!st.ok()) return st;
  }
  return {};
}

int CountEntries(const Environment& env, Db db) {
  int n = 0;
  Status st = env.Read([&](ReadTxn& txn) -> Status {
    auto cursor = Cursor::Open(txn, env.dbi(db));
    if (!cursor.ok()) return cursor.error();
    for (auto at = cursor->First(); at.ok() && *at; at = cursor->Next()) ++n;
    return {};
  });
  EXPECT_TRUE(st.ok());
  return n;
}

TEST(store_environment, OpenCreatesDirectoryAndAllDatabases) {
  TempDir dir;
  auto env = OpenOrDie(dir.sub("a/b/c"));
  ASSERT_TRUE(env);
  EXPECT_TRUE(std::filesystem::exists(dir.sub("a/b/c/data.mdb")));
  for (const DbSpec& spec : kDatabases) EXPECT_NE(env->dbi(spec.db), kMissingDbi) << spec.name;
  EXPECT_EQ(env->map_size(), size_t{1} << 20);
  ASSERT_TRUE(env->Read([&](ReadTxn& txn) -> Status {
                   auto v = txn.Get(env->dbi(Db::kMeta), kSchemaVersionKey);
                   EXPECT_TRUE(v.ok() && v->has_value());
                   if (v.ok() && v->has_value()) {
                     EXPECT_EQ(**v, "1");
                   }
                   return {};
                 })
                  .ok());
}

TEST(store_environment, SecondOpenInProcessSharesTheHandle) {
  TempDir dir;
  auto first = OpenOrDie(dir.path());
  auto second = OpenOrDie(dir.path() + "/./");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first.get(), second.get());
  EnvOptions read_only;
  read_only.path = dir.path();
  read_only.read_only = true;
  auto clash = Environment::Open(read_only);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, ErrorCode::kInvalidInput);
  first.reset();
  second.reset();
  auto reopened = Environment::Open(read_only);
  EXPECT_TRUE(reopened.ok()) << "closed handles are forgotten";
}

TEST(store_environment, InvalidOptionsAreRejected) {
  EnvOptions none;
  auto env = Environment::Open(none);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, ErrorCode::kInvalidInput);
}

TEST(store_environment, ReadOnlyOpenOfMissingEnvironmentIsAnError) {
  TempDir dir;
  for (const std::string& path : {dir.sub("does-not-exist"), dir.path()}) {
    EnvOptions options;
    options.path = path;
    options.read_only = true;
    auto env = Environment::Open(options);
    ASSERT_FALSE(env.ok()) << path;
    EXPECT_NE(env.error().message.find("lmdb:"), std::string::npos) << env.error().message;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.sub("does-not-exist")));
}

TEST(store_environment, ReadOnlyOpenReadsButRefusesWrites) {
  TempDir dir;
  {
    auto env = OpenOrDie(dir.path());
    ASSERT_TRUE(env);
    ASSERT_TRUE(Fill(*env, "k", 3, 10, 3).ok());
  }
  EnvOptions options;
  options.path = dir.path();
  options.read_only = true;
  auto env = Environment::Open(options);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(CountEntries(**env, Db::kSpool), 3);
  Status st = (*env)->Write([](WriteTxn&) -> Status { return {}; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kPermission);
}

TEST(store_environment, ReadOnlyMissingDatabaseReadsAsEmpty) {
  TempDir dir;
  {  // An environment made by something else: no named databases at all.
    MDB_env* raw = nullptr;
    ASSERT_EQ(mdb_env_create(&raw), 0);
    ASSERT_EQ(mdb_env_open(raw, dir.path().c_str(), 0, 0640), 0);
    mdb_env_close(raw);
  }
  EnvOptions options;
  options.path = dir.path();
  options.read_only = true;
  auto env = Environment::Open(options);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ((*env)->dbi(Db::kKv), kMissingDbi);
  EXPECT_EQ(CountEntries(**env, Db::kKv), 0);
  KvStore kv(*env);
  auto got = kv.Get("h", "k");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_FALSE(got->has_value());
  auto list = kv.List("h", "", 10, true);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(store_environment, NewerSchemaIsRefused) {
  TempDir dir;
  {
    auto env = OpenOrDie(dir.path());
    ASSERT_TRUE(env);
    ASSERT_TRUE(env->Write([&](WriteTxn& txn) {
                     return txn.Put(env->dbi(Db::kMeta), kSchemaVersionKey, "99");
                   })
                    .ok());
  }
  EnvOptions options;
  options.path = dir.path();
  auto env = Environment::Open(options);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, ErrorCode::kStore);
  EXPECT_NE(env.error().message.find("99"), std::string::npos);
}

TEST(store_environment, MapGrowsFromTinyToMegabytes) {
  TempDir dir;
  auto env = OpenOrDie(dir.path(), kTinyMap);
  ASSERT_TRUE(env);
  ASSERT_EQ(env->map_size(), kTinyMap);
  // Many small transactions, then one transaction larger than several doublings.
  Status st = Fill(*env, "small", 400, 4000, 4);
  ASSERT_TRUE(st.ok()) << st.error().message;
  st = Fill(*env, "big", 300, 10000, 300);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_GE(env->map_size(), size_t{4} << 20);
  EXPECT_EQ(CountEntries(*env, Db::kSpool), 700);
}

TEST(store_environment, MapFullAtMaximumIsTemporaryAndEnvironmentStaysUsable) {
  TempDir dir;
  auto env = OpenOrDie(dir.path(), kTinyMap, 2 * kTinyMap);
  ASSERT_TRUE(env);
  Status st = Fill(*env, "x", 100, 8000, 100);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kTemporary);
  EXPECT_NE(st.error().message.find("lmdb:"), std::string::npos);
  EXPECT_EQ(CountEntries(*env, Db::kSpool), 0);  // the failed txn left nothing behind
  EXPECT_TRUE(Fill(*env, "y", 2, 100, 2).ok());
  EXPECT_EQ(CountEntries(*env, Db::kSpool), 2);
}

TEST(store_environment, FailingOrThrowingCallbackAbortsTheWrite) {
  TempDir dir;
  auto env = OpenOrDie(dir.path());
  ASSERT_TRUE(env);
  Status st = env->Write([&](WriteTxn& txn) -> Status {
    EXPECT_TRUE(txn.Put(env->dbi(Db::kSpool), "a", "1").ok());
    return MakeError(ErrorCode::kRefused, "no");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kRefused);
  st = env->Write([&](WriteTxn& txn) -> Status {
    EXPECT_TRUE(txn.Put(env->dbi(Db::kSpool), "b", "1").ok());
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  st = env->Write([&](WriteTxn& txn) -> Status {
    EXPECT_TRUE(txn.Put(env->dbi(Db::kSpool), "c", "1").ok());
    txn.Abort();
    return {};
  });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(CountEntries(*env, Db::kSpool), 0);
}

TEST(store_environment, LongKeysNeedStoreKey) {
  TempDir dir;
  auto env = OpenOrDie(dir.path());
  ASSERT_TRUE(env);
  const std::string long_key(600, 'k');
  Status st =
      env->Write([&](WriteTxn& txn) { return txn.Put(env->dbi(Db::kSpool), long_key, "v"); });
  EXPECT_FALSE(st.ok()) << "LMDB itself rejects keys over 511 bytes";
  st = env->Write([&](WriteTxn& txn) -> Status {
    auto put = KeyedPut(txn, env->dbi(Db::kSpool), {}, long_key, "v");
    return put.ok() ? Status{} : Status(put.error());
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
}

// Runs `body` in a forked child; returns its exit status (0 = success).
template <typename Body>
int InChild(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(store_environment, AdoptsMapGrownByAnotherProcess) {
  TempDir dir;
  auto env = OpenOrDie(dir.path(), kTinyMap);
  ASSERT_TRUE(env);
  ASSERT_TRUE(Fill(*env, "parent", 2, 100, 2).ok());
  int rc = InChild([&] {
    // A fresh environment opened after fork(); the inherited one is never touched.
    EnvOptions options;
    options.path = dir.path();
    options.map_size_bytes = kTinyMap;
    auto child = Environment::Open(options);
    if (!child.ok()) return 10;
    if (!Fill(**child, "child", 200, 10000, 20).ok()) return 11;
    return (*child)->map_size() > kTinyMap ? 0 : 12;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(env->map_size(), kTinyMap) << "parent has not noticed yet";
  EXPECT_EQ(CountEntries(*env, Db::kSpool), 202);  // begin sees MDB_MAP_RESIZED, adopts
  EXPECT_GT(env->map_size(), kTinyMap);
  Status st = Fill(*env, "parent-after", 50, 10000, 10);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(CountEntries(*env, Db::kSpool), 252);
}

TEST(store_environment, ClearsStaleReadersOfKilledProcesses) {
  TempDir dir;
  // The parent keeps the environment open (as the milter would); otherwise the next opener
  // is alone and LMDB resets the whole reader table anyway.
  auto env = OpenOrDie(dir.path());
  ASSERT_TRUE(env);
  auto open_in_child = [&]() -> Result<std::shared_ptr<Environment>> {
    EnvOptions options;
    options.path = dir.path();
    return Environment::Open(options);
  };
  int rc = InChild([&] {
    auto child = open_in_child();
    if (!child.ok()) return 10;
    auto txn = (*child)->BeginRead();
    if (!txn.ok()) return 11;
    _exit(0);  // like kill -9: the reader slot stays taken
  });
  ASSERT_EQ(rc, 0);
  rc = InChild([&] {
    auto child = open_in_child();
    if (!child.ok()) return 10;
    return 20 + (*child)->stale_readers_cleared();
  });
  EXPECT_EQ(rc, 21) << "one stale reader cleared by the next opener";
  EXPECT_TRUE(Fill(*env, "after", 1, 10, 1).ok());
}

}  // namespace
}  // namespace threadmill::store

namespace threadmill::store {
namespace {

// Periodic sync mode: commits are visible at once, Sync() flushes them; a reopen sees them.
TEST(EnvironmentSyncTest, PeriodicSyncKeepsCommits) {
  char dir[] = "/tmp/threadmill-sync-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  {
    EnvOptions options;
    options.path = dir;
    options.map_size_bytes = 1 << 20;
    options.sync_each_commit = false;
    auto env = Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    ThreadStore store(*env);
    MessageRecord record;
    record.msgid = "sync@example.com";
    record.time = 1700000000;
    ASSERT_TRUE(store.RecordMessage(record).ok());
    EXPECT_TRUE((*env)->Sync().ok());
  }
  pid_t child = fork();
  if (child == 0) {  // a fresh process opens the environment and must see the record
    EnvOptions options;
    options.path = dir;
    options.read_only = true;
    auto env = Environment::Open(options);
    if (!env.ok()) _exit(2);
    auto found = ThreadStore(*env).FindMessage("sync@example.com");
    _exit(found.ok() && found->has_value() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::filesystem::remove_all(dir);
}

// A full filesystem is reported as "no space left on device" with the fix, not as LMDB's
// "Input/output error" for a short write. Needs a 1 MiB tmpfs (root).
TEST(store_environment, FullDiskIsNamedWithItsFix) {
  TempDir dir;
  std::string mnt = dir.sub("tiny");
  std::filesystem::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a 1 MiB tmpfs (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  Status failed;
  {
    EnvOptions options;
    options.path = mnt + "/db";
    options.map_size_bytes = size_t{8} << 20;  // the map is larger than the disk
    options.max_map_size_bytes = size_t{8} << 20;
    auto env = Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    failed = Fill(**env, "big", 64, 64 << 10, 1);
  }
  ASSERT_FALSE(failed.ok()) << "4 MiB written to a 1 MiB filesystem";
  // Named first (LMDB's own text, often "Input/output error", is only quoted at the end).
  EXPECT_EQ(failed.error().message.rfind("store: no space left on device", 0), 0u)
      << failed.error().message;
  EXPECT_NE(failed.error().message.find("free space there"), std::string::npos);
}

}  // namespace
}  // namespace threadmill::store
