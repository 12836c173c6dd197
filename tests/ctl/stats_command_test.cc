// stats_command_test.cc - the real `threadmillctl stats` over both store backends.
//
// LMDB: the figures of the local environment, in the layout threadmillctl always printed
// (path, map_bytes, entries per database, jobs per state, counters).
// PostgreSQL (a private cluster, tests/support/pg_cluster.h, stopped by PID): two hosts
// ("mx1", "mx2": their own LMDB directories and host ids, one database) write thread mappings,
// reply-ledger claims, routed jobs, counters, KV and drafts through the store's interfaces;
// `threadmillctl stats` run with either host's configuration shows the same totals of both,
// plus that host's own local fallback spool (a job mx1 spooled while the database was
// stopped: waiting to be pushed). A third host whose database does not answer still shows its
// local spool, and says why the shared figures are missing (exit 0).
#include <cstdint>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "ctl_run.h"
#include "reply/ledger.h"
#include "runtime/drafts.h"
#include "runtime/incoming_message.h"
#include "runtime/job_queue.h"
#include "store/counters.h"
#include "store/kv_store.h"
#include "store/open_store.h"
#include "store/thread_store.h"
#include "support/pg_cluster.h"
#include "support/pg_database.h"
#include "support/temp_dir.h"

namespace threadmill::ctl {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// A host: its configuration file for threadmillctl and its store opened in this process.
struct Host {
  std::string conf;
  std::shared_ptr<store::Environment> env;
  std::unique_ptr<runtime::JobQueue> queue;
};

Host MakeHost(const std::string& dir, const std::string& name, const std::string& backend,
              const std::string& dsn) {
  Host host;
  const std::string path = dir + "/" + name;
  std::string store_extra = "map_size_mb = 16\n";
  if (backend == "postgresql") store_extra += PostgresqlStore(dsn) + "host_id = \"" + name + "\"\n";
  host.conf = WriteConf(dir + "/" + name + ".conf", path, store_extra);
  store::EnvOptions options;
  options.path = path;
  options.map_size_bytes = size_t{16} << 20;
  options.backend = backend;
  options.dsn = dsn;
  options.host_id = name;
  auto env = store::OpenStore(options);
  EXPECT_TRUE(env.ok()) << env.error().message;
  if (!env.ok()) return host;
  host.env = *env;
  host.queue = std::make_unique<runtime::JobQueue>(host.env, path + "/spool");
  return host;
}

nlohmann::ordered_json Stats(const Host& host) {
  int status = -1;
  std::string out = RunCtl("-c " + host.conf + " --json stats", &status);
  EXPECT_EQ(status, 0) << out;
  try {
    return nlohmann::ordered_json::parse(out)["store"];
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what() << ": " << out;
    return {};
  }
}

store::MessageRecord Msg(const std::string& msgid, const std::string& thread_id, int64_t time) {
  store::MessageRecord rec;
  rec.msgid = msgid;
  rec.thread_id = thread_id;
  rec.direction = store::Direction::kOutbound;
  rec.time = time;
  rec.from = "help@example.com";
  rec.to = {"alice@example.org"};
  rec.subject = "subject";
  return rec;
}

reply::LedgerEntry Proposed(const std::string& id) {
  reply::LedgerEntry e;
  e.reply_id = id;
  e.state = "pending";
  e.time = Now();
  e.handler = "support";
  e.message = "Subject: x\n\nbody\n";
  e.envelope_sender = "help@example.com";
  e.recipients = {"alice@example.org"};
  return e;
}

runtime::JobInput Input(const std::string& handler, const std::string& message_id) {
  runtime::JobInput in;
  in.handler = handler;
  in.recipient = "help@example.com";
  in.mail_from = "alice@example.org";
  in.message_id = message_id;
  in.thread_id = "T1";
  return in;
}

Result<std::vector<runtime::Enqueued>> Enqueue(Host& host, const std::string& handler,
                                               const std::string& message_id) {
  runtime::IncomingMessage message(host.queue->spool_dir(), SIZE_MAX);
  message.Append("Message-ID: <" + message_id + ">\r\nSubject: q\r\n\r\nbody\r\n");
  return host.queue->EnqueueMessage({Input(handler, message_id)}, message, 0);
}

TEST(ctl_stats, LmdbShowsTheLocalEnvironmentAsBefore) {
  threadmill::testing::TempDir dir;
  Host host = MakeHost(dir.str(), "mx1", "lmdb", "");
  ASSERT_TRUE(host.env);
  store::ThreadStore threads(host.env);
  ASSERT_TRUE(threads.RecordMessage(Msg("a1@example.com", "T1", 100)).ok());
  ASSERT_TRUE(threads.RecordMessage(Msg("a2@example.com", "T1", 200)).ok());
  ASSERT_TRUE(Enqueue(host, "support", "q1@example.org").ok());
  ASSERT_TRUE(store::Counters(host.env).Add("threadmill_replies_total{outcome=\"sent\"}", 2).ok());
  nlohmann::ordered_json s = Stats(host);
  std::vector<std::string> keys;
  for (const auto& [k, v] : s.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"path", "map_bytes", "entries", "jobs", "counters"}));
  EXPECT_EQ(s["path"], dir.str() + "/mx1");
  EXPECT_EQ(s["map_bytes"], 16u << 20);
  EXPECT_EQ(s["entries"]["msgid"], 2);
  EXPECT_EQ(s["entries"]["thread"], 1);
  EXPECT_EQ(s["entries"]["spool"], 1);
  EXPECT_EQ(s["entries"].size(), store::kDbCount);
  EXPECT_EQ(s["jobs"],
            (nlohmann::ordered_json{{"queued", 1}, {"running", 0}, {"parked", 0}, {"done", 0}}));
  EXPECT_EQ(s["counters"]["threadmill_replies_total{outcome=\"sent\"}"], 2);
}

TEST(ctl_stats, PostgresqlShowsTheTotalsOfEveryHostAndTheLocalSpool) {
  threadmill::testing::PgCluster cluster;
  std::string dsn;
  threadmill::testing::StartWithDatabase(&cluster, &dsn);
  if (dsn.empty()) return;  // skipped or failed
  threadmill::testing::TempDir dir;
  Host mx1 = MakeHost(dir.str(), "mx1", "postgresql", dsn);
  Host mx2 = MakeHost(dir.str(), "mx2", "postgresql", dsn);
  ASSERT_TRUE(mx1.env && mx2.env);
  const int64_t now = Now();

  // Thread mappings: an outbound message on mx1 and its answer on mx2 (one thread), and a
  // second thread on mx2.
  ASSERT_TRUE(store::ThreadStore(mx1.env).RecordMessage(Msg("o1@example.com", "T1", now)).ok());
  ASSERT_TRUE(store::ThreadStore(mx2.env).RecordMessage(Msg("a1@example.org", "T1", now)).ok());
  ASSERT_TRUE(store::ThreadStore(mx2.env).RecordMessage(Msg("o2@example.com", "T2", now)).ok());
  // The reply ledger: one claim per host, and mx2's claim of mx1's message refused.
  reply::ReplyLedger ledger1(mx1.env, {"mx1", 300});
  reply::ReplyLedger ledger2(mx2.env, {"mx2", 300});
  ASSERT_TRUE(ledger1.Claim("i1@example.org", "help@example.com", {}, Proposed("r1@x")).ok());
  ASSERT_TRUE(ledger2.Claim("i2@example.org", "help@example.com", {}, Proposed("r2@x")).ok());
  EXPECT_FALSE(ledger2.Claim("i1@example.org", "help@example.com", {}, Proposed("r3@x")).ok());
  // Routed jobs: one on each host, the same message again on mx2 (one job in all), and mx2
  // runs mx1's job.
  ASSERT_TRUE(Enqueue(mx1, "support", "j1@example.org").ok());
  ASSERT_TRUE(Enqueue(mx2, "sales", "j2@example.org").ok());
  auto again = Enqueue(mx2, "support", "j1@example.org");
  ASSERT_TRUE(again.ok() && again->front().duplicate);
  auto claimed = mx2.queue->ClaimDue(now + 1, {{"support", 1}});
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1u);
  // Counters and handler data.
  ASSERT_TRUE(store::Counters(mx1.env).Add("threadmill_replies_total{outcome=\"sent\"}", 2).ok());
  ASSERT_TRUE(store::Counters(mx2.env).Add("threadmill_replies_total{outcome=\"sent\"}", 3).ok());
  ASSERT_TRUE(store::KvStore(mx1.env).Put("support", "k1", "v1").ok());
  ASSERT_TRUE(store::KvStore(mx2.env).Put("support", "k2", "v2").ok());
  runtime::Draft draft;
  draft.handler = "support";
  draft.content.text = "Dear Alice";
  ASSERT_TRUE(runtime::DraftStore(mx2.env).Create(draft).ok());

  // The database away: mx1 spools a routed message locally (waiting to be pushed).
  cluster.StopServer();
  auto away = Enqueue(mx1, "support", "away@example.org");
  ASSERT_TRUE(away.ok()) << away.error().message;
  EXPECT_TRUE(away->front().fallback);
  ASSERT_TRUE(cluster.StartAgain()) << cluster.error();

  const nlohmann::ordered_json want_jobs = {
      {"queued", 1}, {"running", 1}, {"parked", 0}, {"done", 0}};
  for (const Host* host : {&mx1, &mx2}) {
    SCOPED_TRACE(host->conf);
    nlohmann::ordered_json s = Stats(*host);
    EXPECT_EQ(s["backend"], "postgresql");
    EXPECT_FALSE(s.contains("error")) << s.dump();
    const nlohmann::ordered_json& e = s["entries"];
    EXPECT_EQ(e["tm_message"], 3) << e.dump();
    EXPECT_EQ(e["tm_thread"], 2) << e.dump();
    EXPECT_EQ(e["tm_replied_once"], 2) << e.dump();
    EXPECT_EQ(e["tm_job"], 2) << e.dump();
    EXPECT_EQ(e["tm_job_message"], 2) << e.dump();
    EXPECT_EQ(e["tm_kv"], 2) << e.dump();
    EXPECT_EQ(e["tm_draft"], 1) << e.dump();
    EXPECT_EQ(e["tm_counter"], 1) << e.dump();
    EXPECT_TRUE(e.contains("tm_ledger")) << e.dump();
    EXPECT_EQ(s["jobs"], want_jobs);
    EXPECT_EQ(s["counters"]["threadmill_replies_total{outcome=\"sent\"}"], 5);
    const nlohmann::ordered_json& local = s["local_spool"];
    EXPECT_EQ(local["path"], dir.str() + (host == &mx1 ? "/mx1" : "/mx2"));
    EXPECT_EQ(local["map_bytes"], 16u << 20);
    EXPECT_EQ(local["waiting_to_push"], host == &mx1 ? 1 : 0);
    EXPECT_EQ(local["jobs"]["queued"], host == &mx1 ? 1 : 0);
  }
  // Every table the migrations made is counted (the census lists them by hand), bar the
  // schema's own version row.
  std::set<std::string> tables;
  PGconn* conn = PQconnectdb(dsn.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* res = PQexec(conn,
                         "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                         "AND tablename LIKE 'tm\\_%' AND tablename <> 'tm_schema_version'");
  ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQerrorMessage(conn);
  for (int i = 0; i < PQntuples(res); ++i) tables.insert(PQgetvalue(res, i, 0));
  PQclear(res);
  PQfinish(conn);
  EXPECT_GE(tables.size(), 11u);
  nlohmann::ordered_json counted = Stats(mx1)["entries"];
  for (const std::string& table : tables) EXPECT_TRUE(counted.contains(table)) << table;

  // The text output names the same sections.
  int status = -1;
  std::string text = RunCtl("-c " + mx1.conf + " stats", &status);
  EXPECT_EQ(status, 0) << text;
  EXPECT_NE(text.find("local_spool"), std::string::npos) << text;
  EXPECT_NE(text.find("waiting_to_push"), std::string::npos) << text;
  EXPECT_NE(text.find("tm_message"), std::string::npos) << text;

  // A host whose database does not answer (a socket directory where no server listens): its
  // local spool, and the reason the totals are missing.
  Host lost =
      MakeHost(dir.str(), "mx3", "postgresql", "host=" + dir.str() + " port=5432 user=tm dbname=x");
  ASSERT_TRUE(lost.env);
  nlohmann::ordered_json s = Stats(lost);
  EXPECT_EQ(s["backend"], "postgresql");
  EXPECT_FALSE(s.value("error", "").empty()) << s.dump();
  EXPECT_EQ(s["local_spool"]["waiting_to_push"], 0) << s.dump();
  cluster.Stop();
}

}  // namespace
}  // namespace threadmill::ctl
