// migrate_store_test.cc - the real `threadmillctl migrate-store --from lmdb` between a real
// LMDB store (seeded through ThreadStore and ReplyLedger) and a private PostgreSQL cluster
// (tests/support/pg_cluster.h), read back through the PostgreSQL backends: dry run writes
// nothing, the copy keeps rows PostgreSQL already had, a second run copies nothing, and a
// configuration without backend = "postgresql" is refused. The handler kinds (KV seeded
// through KvStore, drafts through DraftStore, counters through Counters) are copied with
// their TTLs, without expired records or the spool dedupe namespace, and counters are added
// once. Skips when the PostgreSQL server binaries are absent.
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ctl_run.h"
#include "reply/ledger.h"
#include "runtime/drafts.h"
#include "runtime/job_queue.h"
#include "store/counters.h"
#include "store/environment.h"
#include "store/keys.h"
#include "store/kv_store.h"
#include "store/postgresql/pg_counters_backend.h"
#include "store/postgresql/pg_draft_backend.h"
#include "store/postgresql/pg_kv_backend.h"
#include "store/postgresql/pg_ledger_backend.h"
#include "store/postgresql/pg_pool.h"
#include "store/postgresql/pg_thread_backend.h"
#include "store/thread_store.h"
#include "support/pg_cluster.h"
#include "support/pg_database.h"
#include "support/temp_dir.h"

namespace threadmill::ctl {
namespace {

store::MessageRecord Msg(std::string msgid, std::string thread_id, int64_t time,
                         store::Direction direction = store::Direction::kOutbound) {
  store::MessageRecord rec;
  rec.msgid = std::move(msgid);
  rec.thread_id = std::move(thread_id);
  rec.direction = direction;
  rec.time = time;
  rec.from = "help@example.com";
  rec.to = {"carol@example.org"};
  rec.subject = "subject";
  rec.queue_id = "Q" + std::to_string(time);
  return rec;
}

// kind -> (found, copied) of a --json run.
std::map<std::string, std::pair<uint64_t, uint64_t>> Counts(const std::string& out) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> counts;
  auto j = nlohmann::json::parse(out);
  for (const auto& k : j["kinds"]) counts[k["kind"]] = {k["found"], k["copied"]};
  return counts;
}

TEST(ctl_migrate_store, CopiesOnceKeepsPostgresRowsAndRefusesLmdbConfig) {
  threadmill::testing::PgCluster cluster;
  std::string dsn;
  threadmill::testing::StartWithDatabase(&cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  threadmill::testing::TempDir dir;
  const std::string store_dir = dir.str() + "/old-store";

  // The LMDB store of an installation before the switch.
  const std::string long_id = std::string(600, 'l') + "@example.com";  // a hashed LMDB key
  std::string thread_id;
  {
    store::EnvOptions options;
    options.path = store_dir;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    store::ThreadStore threads(*env);
    auto q1 = threads.RecordMessage(Msg("q1@example.com", "", 100), "ROOT-1");
    ASSERT_TRUE(q1.ok()) << q1.error().message;
    thread_id = q1->thread_id;
    ASSERT_TRUE(threads.SetThreadOwner(thread_id, "sales").ok());
    ASSERT_TRUE(
        threads
            .RecordMessage(Msg("a1@example.org", thread_id, 200, store::Direction::kInbound),
                           std::string(500, 'R'))
            .ok());
    ASSERT_TRUE(threads.RecordMessage(Msg(long_id, thread_id, 300)).ok());
    ASSERT_TRUE(threads.RecordMessage(Msg("q2@example.com", "", 400)).ok());
    reply::ReplyLedger ledger(*env);
    reply::ClaimLimits limits{"carol@example.org", thread_id, 3600, 5, 0};
    reply::LedgerEntry proposed;
    proposed.reply_id = "r1@example.com";
    proposed.state = "pending";
    proposed.time = 250;
    proposed.handler = "h";
    proposed.recipients = {"carol@example.org"};
    auto claimed = ledger.Claim("a1@example.org", "help@example.com", limits, proposed);
    ASSERT_TRUE(claimed.ok()) << claimed.error().message;
    ASSERT_TRUE(ledger.MarkSent("a1@example.org", "help@example.com").ok());
  }
  // PostgreSQL already knows q2 (recorded by a host switched over earlier): its row wins.
  auto pool = store::pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  store::ThreadStore pg_threads(std::make_shared<store::pg::PgThreadBackend>(*pool));
  reply::ReplyLedger pg_ledger(std::make_shared<store::pg::PgLedgerBackend>(*pool));
  ASSERT_TRUE(pg_threads.RecordMessage(Msg("q2@example.com", "TPG", 500)).ok());

  const std::string pg_conf =
      WriteConf(dir.str() + "/pg.conf", dir.str() + "/new-store", PostgresqlStore(dsn));
  const std::string lmdb_conf = WriteConf(dir.str() + "/lmdb.conf", store_dir);
  int status = -1;

  std::string out = RunCtl("-c " + lmdb_conf + " migrate-store --from lmdb", &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("backend is \"lmdb\""), std::string::npos) << out;
  out = RunCtl("-c " + pg_conf + " migrate-store --from sqlite --path " + store_dir, &status);
  EXPECT_EQ(status, 2) << out;

  const std::string migrate =
      "-c " + pg_conf + " --json migrate-store --from lmdb --path " + store_dir;
  out = RunCtl(migrate + " --dry-run", &status);
  ASSERT_EQ(status, 0) << out;
  auto dry = Counts(out);
  EXPECT_EQ(dry["messages"], std::make_pair(uint64_t{4}, uint64_t{3}));
  EXPECT_EQ(dry["threads"], std::make_pair(uint64_t{2}, uint64_t{2}));
  EXPECT_EQ(dry["thread-index"], std::make_pair(uint64_t{2}, uint64_t{2}));
  EXPECT_GE(dry["ledger"].first, 1u);
  EXPECT_EQ(dry["ledger"].second, dry["ledger"].first);
  EXPECT_FALSE(pg_threads.FindMessage("q1@example.com")->has_value()) << "dry run wrote";

  out = RunCtl(migrate, &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(Counts(out), dry) << out;
  // Read back through the PostgreSQL backends, as the daemon will.
  auto q1 = pg_threads.FindMessage("q1@example.com");
  ASSERT_TRUE(q1.ok() && q1->has_value());
  EXPECT_EQ((*q1)->thread_id, thread_id);
  EXPECT_EQ((*q1)->queue_id, "Q100");
  auto longer = pg_threads.FindMessage(long_id);
  ASSERT_TRUE(longer.ok() && longer->has_value());
  EXPECT_EQ((*longer)->thread_id, thread_id);
  EXPECT_EQ((*pg_threads.FindMessage("q2@example.com"))->thread_id, "TPG");
  auto thread = pg_threads.FindThread(thread_id);
  ASSERT_TRUE(thread.ok() && thread->has_value());
  EXPECT_EQ((*thread)->owner, "sales");
  EXPECT_EQ((*thread)->message_count, 3u);
  EXPECT_EQ(pg_threads.ThreadMessages(thread_id)->size(), 3u);
  EXPECT_EQ(*pg_threads.FindThreadByIndex("ROOT-1"), std::optional<std::string>(thread_id));
  EXPECT_EQ(*pg_threads.FindThreadByIndex(std::string(500, 'R')),
            std::optional<std::string>(thread_id));
  auto sent = pg_ledger.Find("a1@example.org", "help@example.com");
  ASSERT_TRUE(sent.ok() && sent->has_value());
  EXPECT_EQ((*sent)->state, "sent");
  EXPECT_EQ((*sent)->reply_id, "r1@example.com");
  reply::ClaimLimits limits{"carol@example.org", thread_id, 3600, 5, 0};
  EXPECT_EQ(*pg_ledger.Check("a1@example.org", "help@example.com", limits, "h", 260),
            "already-replied");
  // The sender's vacation period came along with the rate entries.
  EXPECT_EQ(*pg_ledger.Check("a2@example.org", "help@example.com", limits, "h", 260),
            "rate-sender");

  // Again: nothing new (and the text output says so).
  out = RunCtl(migrate, &status);
  ASSERT_EQ(status, 0) << out;
  for (const auto& [kind, count] : Counts(out)) EXPECT_EQ(count.second, 0u) << kind;
  out = RunCtl("-c " + pg_conf + " migrate-store --from lmdb --path " + store_dir, &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("messages"), std::string::npos) << out;
  EXPECT_NE(out.find("0 copied"), std::string::npos) << out;
  EXPECT_EQ((*pg_threads.FindThread(thread_id))->message_count, 3u);
}

TEST(ctl_migrate_store, CopiesHandlerKvDraftsAndCountersOnce) {
  threadmill::testing::PgCluster cluster;
  std::string dsn;
  threadmill::testing::StartWithDatabase(&cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  threadmill::testing::TempDir dir;
  const std::string store_dir = dir.str() + "/old-store";
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string long_key(600, 'k');  // stored hashed in LMDB
  std::string pending_id, rejected_id;
  {
    store::EnvOptions options;
    options.path = store_dir;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    store::KvStore kv(*env);
    ASSERT_TRUE(kv.Put("h1", "plain", "v1").ok());
    ASSERT_TRUE(kv.Put("h1", long_key, "v2").ok());
    ASSERT_TRUE(kv.Put("h1", "ttl", "v3", 3600).ok());
    ASSERT_TRUE(kv.Put("h2", "taken", "lmdb").ok());
    // Written two hours ago with a one-minute TTL: expired.
    store::KvStore past(*env, [now] { return now - 7200; });
    ASSERT_TRUE(past.Put("h1", "gone", "v4", 60).ok());
    // The LMDB job queue's spool dedupe index lives in the kv database too: not handler data.
    ASSERT_TRUE((*env)
                    ->Write([&](store::WriteTxn& txn) -> Status {
                      auto put = store::KeyedPut(txn, (*env)->dbi(store::Db::kKv),
                                                 runtime::kSpoolDedupeNamespace,
                                                 std::string("m@x\0r@y\0h1", 10), "J1");
                      if (!put.ok()) return put.error();
                      return {};
                    })
                    .ok());

    runtime::DraftStore drafts(*env);
    runtime::Draft draft;
    draft.handler = "h1";
    draft.inbound_text = "hello";
    auto pending = drafts.Create(draft);
    ASSERT_TRUE(pending.ok()) << pending.error().message;
    pending_id = *pending;
    auto rejected = drafts.Create(draft);
    ASSERT_TRUE(rejected.ok()) << rejected.error().message;
    rejected_id = *rejected;
    ASSERT_TRUE(drafts.Reject(rejected_id, "alice", "no").ok());

    store::Counters counters(*env);
    ASSERT_TRUE(counters.Add("threadmill_a_total", 5).ok());
    ASSERT_TRUE(counters.Add("threadmill_b_total{handler=\"h1\"}", 2).ok());
  }
  // PostgreSQL already in use: h2/taken and 10 events of threadmill_a_total counted there.
  auto pool = store::pg::PgPool::Open(dsn);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  auto pg_kv_backend = std::make_shared<store::pg::PgKvBackend>(*pool);
  store::KvStore pg_kv(pg_kv_backend);
  runtime::DraftStore pg_drafts(std::make_shared<store::pg::PgDraftBackend>(*pool));
  store::Counters pg_counters(std::make_shared<store::pg::PgCountersBackend>(*pool));
  ASSERT_TRUE(pg_kv.Put("h2", "taken", "pg").ok());
  ASSERT_TRUE(pg_counters.Add("threadmill_a_total", 10).ok());

  const std::string pg_conf =
      WriteConf(dir.str() + "/pg.conf", dir.str() + "/new-store", PostgresqlStore(dsn));
  const std::string migrate =
      "-c " + pg_conf + " --json migrate-store --from lmdb --path " + store_dir;
  int status = -1;
  std::string out = RunCtl(migrate + " --dry-run", &status);
  ASSERT_EQ(status, 0) << out;
  auto dry = Counts(out);
  // 5 handler records (not the spool dedupe entry); expired "gone" and PostgreSQL's "taken"
  // are not copied.
  EXPECT_EQ(dry["kv"], std::make_pair(uint64_t{5}, uint64_t{3})) << out;
  EXPECT_EQ(dry["drafts"], std::make_pair(uint64_t{2}, uint64_t{2})) << out;
  EXPECT_EQ(dry["counters"], std::make_pair(uint64_t{2}, uint64_t{2})) << out;
  EXPECT_FALSE(pg_kv.Get("h1", "plain")->has_value()) << "dry run wrote";
  EXPECT_EQ(pg_counters.All()->size(), 1u) << "dry run wrote";

  out = RunCtl(migrate, &status);
  ASSERT_EQ(status, 0) << out;
  auto copied = Counts(out);
  EXPECT_EQ(copied["kv"], dry["kv"]) << out;
  EXPECT_EQ(copied["drafts"], dry["drafts"]) << out;
  EXPECT_EQ(copied["counters"], dry["counters"]) << out;

  EXPECT_EQ(*pg_kv.Get("h1", "plain"), std::optional<std::string>("v1"));
  EXPECT_EQ(*pg_kv.Get("h1", long_key), std::optional<std::string>("v2"));
  EXPECT_EQ(*pg_kv.Get("h1", "ttl"), std::optional<std::string>("v3"));
  // The TTL came along: invisible once its hour is over, never expiring records stay.
  EXPECT_FALSE(pg_kv_backend->Get("h1", "ttl", now + 3700)->has_value());
  EXPECT_TRUE(pg_kv_backend->Get("h1", "plain", now + 3700)->has_value());
  EXPECT_FALSE(pg_kv.Get("h1", "gone")->has_value());
  EXPECT_EQ(*pg_kv.Get("h2", "taken"), std::optional<std::string>("pg"));
  auto spool = pg_kv_backend->List(std::string_view(runtime::kSpoolDedupeNamespace).substr(0, 13),
                                   store::KvListQuery{"", "", 100, false, now});
  ASSERT_TRUE(spool.ok());
  EXPECT_TRUE(spool->empty());

  auto pending = pg_drafts.Get(pending_id);
  ASSERT_TRUE(pending.ok() && pending->has_value());
  EXPECT_EQ((*pending)->state, "draft_for_approval");
  EXPECT_EQ((*pending)->handler, "h1");
  EXPECT_EQ((*pending)->inbound_text, "hello");
  auto rejected = pg_drafts.Get(rejected_id);
  ASSERT_TRUE(rejected.ok() && rejected->has_value());
  EXPECT_EQ((*rejected)->state, "rejected");
  ASSERT_NE((*rejected)->last_event(), nullptr);
  EXPECT_EQ((*rejected)->last_event()->by, "alice");
  EXPECT_EQ(pg_drafts.List(10, "draft_for_approval")->size(), 1u);

  using Totals = std::vector<std::pair<std::string, uint64_t>>;
  const Totals added{{"threadmill_a_total", 15}, {"threadmill_b_total{handler=\"h1\"}", 2}};
  EXPECT_EQ(*pg_counters.All(), added);

  // Again (dry and real): nothing copied, counters not added twice.
  for (const std::string& run : {migrate + " --dry-run", migrate}) {
    out = RunCtl(run, &status);
    ASSERT_EQ(status, 0) << out;
    auto again = Counts(out);
    for (const char* kind : {"kv", "drafts", "counters"}) {
      EXPECT_EQ(again[kind].second, 0u) << kind << " " << out;
    }
  }
  EXPECT_EQ(*pg_counters.All(), added);
}

}  // namespace
}  // namespace threadmill::ctl
