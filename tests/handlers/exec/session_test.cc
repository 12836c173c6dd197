// session_test.cc - exec's session mode (handlers/exec/session.h), loaded from the real exec.so
// and driven through the C ABI with the host test double: the program's lifecycle (started
// once, restarted after a failure with back-off, stopped with the handler), the JSON-lines
// protocol end to end (calls answered through the host, done statuses, malformed lines, line
// cap, time-out, stderr rate limit), and the shipped Python example examples/campaign.py.
// Test programs are small Python scripts (/usr/bin/python3) written into a fresh folder.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../host_double.h"

namespace threadmill::test {
namespace {

using nlohmann::json;

constexpr char kPython[] = "/usr/bin/python3";

// The start of every test program: line I/O helpers; D is the test folder.
constexpr char kPrelude[] = R"(import json, os, sys
D = sys.argv[1]
def put(o):
    sys.stdout.write(json.dumps(o) + "\n"); sys.stdout.flush()
def read():
    l = sys.stdin.readline()
    if not l:
        sys.exit(0)
    return json.loads(l)
REQ = [0]
def call(name, **a):
    REQ[0] += 1
    a.update(call=name, req=REQ[0]); put(a); return read()
def record(name, obj):
    with open(os.path.join(D, name), "a") as f:
        f.write(json.dumps(obj) + "\n")
def events():
    while True:
        m = read()
        if m.get("type") in ("inbound", "heartbeat"):
            yield m
        else:
            record("other", m)
)";

std::vector<json> ReadRecords(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

// True when pid has ended: no such process, or a zombie (its new parent may be slow to reap
// it, or not reap at all in a container).
bool ProcessGone(pid_t pid) {
  std::string stat;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::getline(in, stat);
  size_t paren = stat.rfind(')');
  return stat.empty() || (paren != std::string::npos && paren + 2 < stat.size() &&
                          (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X'));
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "exec_session_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    module_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  // Writes a Python program: the prelude, then `body`.
  std::string Program(const std::string& body) {
    std::string path = dir_ + "/program.py";
    std::ofstream(path) << kPrelude << body << "\n";
    return path;
  }

  // Loads exec in session mode running `script` (python3 SCRIPT DIR) plus `extra` config.
  int Load(const std::string& script, json extra = json::object()) {
    extra["command"] = {kPython, script, dir_};
    if (!extra.contains("mode")) extra["mode"] = "session";
    if (!extra.contains("timeout_seconds")) extra["timeout_seconds"] = 20;
    module_ = std::make_unique<Module>(THREADMILL_EXEC_MODULE);
    return module_->Init(&host_, extra.dump());
  }

  int Run() { return module_->OnInbound(mail_.envelope()); }
  int Heartbeat() { return module_->OnHeartbeat(); }
  std::vector<json> Records(const std::string& name) { return ReadRecords(dir_ + "/" + name); }
  int CountLogs(const std::string& needle) {
    int n = 0;
    for (const auto& l : host_.logs) n += l.message.find(needle) != std::string::npos;
    return n;
  }

  std::string dir_;
  HostDouble host_;
  EnvelopeData mail_;
  std::unique_ptr<Module> module_;
};

TEST_F(SessionTest, OneProgramServesEveryEventAndGetsTheStartLineFirst) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    record("events", {"pid": os.getpid(), "type": e["type"], "id": e["id"],
                      "msgid": e.get("envelope", {}).get("channel_message_id")})
    put({"done": e["id"], "status": "ok"})
)")),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(Heartbeat(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  std::vector<json> events = Records("events");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["pid"], events[2]["pid"]);
  EXPECT_EQ(events[0]["type"], "inbound");
  EXPECT_EQ(events[0]["msgid"], "<m1@example.org>");
  EXPECT_EQ(events[1]["type"], "heartbeat");
  EXPECT_EQ(events[1]["id"], events[0]["id"].get<int>() + 1);
  std::vector<json> other = Records("other");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0]["type"], "start");
  EXPECT_EQ(other[0]["protocol"], 1);
  EXPECT_NE(std::find(other[0]["calls"].begin(), other[0]["calls"].end(), "kv_list"),
            other[0]["calls"].end());
  EXPECT_EQ(CountLogs("started (session mode"), 1);
}

TEST_F(SessionTest, CallsAreCarriedOutThroughTheHostAndAnswered) {
  host_.kv["seen:old"] = "1";
  ASSERT_EQ(Load(Program(R"(
for e in events():
    m = e["envelope"]["channel_message_id"]
    answers = [call("kv_put", key="seen:" + m, value={"n": 1}),
               call("kv_get", key="seen:" + m),
               call("kv_list", prefix="seen:", include_values=True),
               call("kv_delete", key="seen:old"),
               call("fly"),
               call("reply", text="Got it", html="<p>Got it</p>"),
               call("draft", text="Second thoughts")]
    put({"call": "log", "message": "no answer for me"})
    record("answers", answers)
    put({"done": e["id"]})
)")),
            THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  std::vector<json> got = Records("answers");
  ASSERT_EQ(got.size(), 1u);
  const json& a = got[0];
  EXPECT_EQ(a[0], json({{"req", 1}, {"ok", true}}));
  EXPECT_EQ(a[1], json({{"req", 2}, {"ok", true}, {"found", true}, {"value", "{\"n\":1}"}}));
  EXPECT_EQ(a[2]["items"], json({{{"key", "seen:<m1@example.org>"}, {"value", "{\"n\":1}"}},
                                 {{"key", "seen:old"}, {"value", "1"}}}));
  EXPECT_EQ(a[3]["deleted"], true);
  EXPECT_EQ(a[4],
            json({{"req", 5}, {"ok", false}, {"status", "invalid"}, {"error", "unknown-call"}}));
  EXPECT_EQ(a[5], json({{"req", 6}, {"ok", true}}));
  EXPECT_EQ(a[6]["draft_id"], "draft-1");
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].message_id, "<m1@example.org>");
  EXPECT_EQ(host_.replies[0].html, "<p>Got it</p>");
  EXPECT_EQ(host_.drafts.size(), 1u);
  EXPECT_EQ(host_.kv.count("seen:old"), 0u);
  EXPECT_TRUE(host_.Logged("no answer for me"));
}

TEST_F(SessionTest, DoneStatusesBecomeJobStatuses) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    put({"done": e["id"], "status": e["envelope"]["subject"], "reason": "because"})
)")),
            THREADMILL_OK);
  const std::pair<const char*, int> cases[] = {
      {"ok", THREADMILL_OK}, {"retry", THREADMILL_RETRY}, {"fail", THREADMILL_FAIL}};
  for (const auto& [status, want] : cases) {
    mail_.subject = status;
    EXPECT_EQ(Run(), want) << status << "\n" << host_.AllLogs();
  }
  EXPECT_TRUE(host_.Logged("to be retried: because")) << host_.AllLogs();
  EXPECT_EQ(CountLogs("started (session mode"), 1);  // none of them ends the program
}

TEST_F(SessionTest, MalformedLinesFailTheEventAndTheNextEventGetsAFreshProgram) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    record("pids", os.getpid())
    s = e["envelope"]["subject"]
    if s == "garbage":
        sys.stdout.write("this is not json\n"); sys.stdout.flush()
    elif s == "wrong-id":
        put({"done": e["id"] + 100})
    else:
        put({"done": e["id"]})
)")),
            THREADMILL_OK);
  for (const char* bad : {"garbage", "wrong-id"}) {
    mail_.subject = bad;
    EXPECT_EQ(Run(), THREADMILL_FAIL) << bad << "\n" << host_.AllLogs();
    mail_.subject = "fine";
    EXPECT_EQ(Run(), THREADMILL_OK) << bad << "\n" << host_.AllLogs();
  }
  EXPECT_TRUE(host_.Logged("protocol error in inbound event 1: not JSON: this is not json"))
      << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("protocol error: done 103 while inbound event 3 runs"))
      << host_.AllLogs();
  std::vector<json> pids = Records("pids");
  ASSERT_EQ(pids.size(), 4u);
  EXPECT_NE(pids[0], pids[1]);  // the malformed line ended the first program
  EXPECT_NE(pids[2], pids[3]);
}

TEST_F(SessionTest, AProgramThatDiesIsRetriedThenRestartedWithBackOff) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    record("pids", os.getpid())
    sys.stderr.write("dying now\n"); sys.stderr.flush()
    sys.exit(3)
)")),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("ended while working on inbound event 1; program exited with status 3"))
      << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("stderr: dying now")) << host_.AllLogs();
  EXPECT_EQ(Run(), THREADMILL_RETRY);  // the first failure restarts at once
  EXPECT_EQ(Run(), THREADMILL_RETRY);  // then back-off: not even started
  EXPECT_TRUE(host_.Logged("restarts in 1 s (back-off after 2 failures), will retry"))
      << host_.AllLogs();
  EXPECT_EQ(Records("pids").size(), 2u);
}

TEST_F(SessionTest, AnEventPastTheTimeoutIsRetriedAndTheProgramKilled) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    record("pids", os.getpid())
    # never done
)"),
                 {{"timeout_seconds", 1}}),
            THREADMILL_OK);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 10);
  EXPECT_TRUE(host_.Logged("inbound event 1 not done within 1 s (timeout_seconds)"))
      << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("killed by signal 9")) << host_.AllLogs();
  std::vector<json> pids = Records("pids");
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(ProcessGone(pids[0].get<pid_t>()));
}

TEST_F(SessionTest, ALineOverMaxLineBytesFailsTheEvent) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    put({"call": "log", "message": "x" * 5000})
)"),
                 {{"max_line_bytes", 1024}}),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("a line longer than max_line_bytes (1024)")) << host_.AllLogs();
  EXPECT_FALSE(host_.Logged("xxxxxxxxxx"));
}

TEST_F(SessionTest, StderrGoesToTheLogUpToStderrLinesPerMinute) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    for i in range(10):
        sys.stderr.write("line %d\n" % i)
    sys.stderr.flush()
    put({"done": e["id"]})
)"),
                 {{"stderr_lines_per_minute", 3}}),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(CountLogs("stderr: line"), 3) << host_.AllLogs();
  EXPECT_EQ(CountLogs("stderr_lines_per_minute (3) reached"), 1) << host_.AllLogs();
}

TEST_F(SessionTest, TheProgramEndsWithTheHandler) {
  ASSERT_EQ(Load(Program(R"(
for e in events():
    record("pids", os.getpid())
    put({"done": e["id"]})
)")),
            THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK);
  pid_t pid = Records("pids").at(0).get<pid_t>();
  EXPECT_FALSE(ProcessGone(pid));
  module_.reset();  // fini: stdin closed, the program leaves at end of input
  EXPECT_TRUE(ProcessGone(pid));
}

TEST_F(SessionTest, TheProgramDiesWithAWorkerKilledOutright) {
  std::string script = Program(R"(
import time
for e in events():
    record("pids", os.getpid())
    put({"done": e["id"]})
    time.sleep(600)  # not reading stdin: only the worker's death can end it now
)");
  pid_t worker = fork();  // the "worker": loads exec, runs one event, is killed with SIGKILL
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    HostDouble host;
    EnvelopeData mail;
    Module m(THREADMILL_EXEC_MODULE);
    json config = {{"command", {kPython, script, dir_}}, {"mode", "session"}};
    if (m.Init(&host, config.dump()) != THREADMILL_OK) _exit(2);
    if (m.OnInbound(mail.envelope()) != THREADMILL_OK) _exit(3);
    raise(SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(worker, &status, 0), worker);
  ASSERT_TRUE(WIFSIGNALED(status)) << "worker exit status " << status;
  std::vector<json> pids = Records("pids");
  ASSERT_EQ(pids.size(), 1u);
  pid_t program = pids[0].get<pid_t>();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ProcessGone(program) && std::chrono::steady_clock::now() < deadline) usleep(20000);
  EXPECT_TRUE(ProcessGone(program)) << "program " << program << " outlived its worker";
  if (!ProcessGone(program)) kill(program, SIGKILL);
}

TEST_F(SessionTest, AProgramThatCannotStartIsRetried) {
  std::string path = dir_ + "/gone";
  std::ofstream(path) << "#!/bin/sh\nexit 0\n";
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  json config = {{"command", {path, dir_}}, {"mode", "session"}};
  module_ = std::make_unique<Module>(THREADMILL_EXEC_MODULE);
  ASSERT_EQ(module_->Init(&host_, config.dump()), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(unlink(path.c_str()), 0);  // removed after start-up (an upgrade, a mistake)
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("cannot start: No such file or directory")) << host_.AllLogs();
}

TEST_F(SessionTest, BadSessionConfigurationRefusesInit) {
  std::string p = Program("");
  EXPECT_EQ(Load(p, {{"mode", "daemon"}}), THREADMILL_INVALID);
  EXPECT_TRUE(host_.Logged("mode: expected \"oneshot\" or \"session\"")) << host_.AllLogs();
  EXPECT_EQ(Load(p, {{"max_line_bytes", 10}}), THREADMILL_INVALID);
  EXPECT_EQ(Load(p, {{"stderr_lines_per_minute", -1}}), THREADMILL_INVALID);
  EXPECT_EQ(Load(p, {{"restart_max_seconds", 0}}), THREADMILL_INVALID);
}

TEST_F(SessionTest, OneShotModeHasANoOpHeartbeat) {
  std::string p = Program("record('ran', 1)");
  ASSERT_EQ(Load(p, {{"mode", "oneshot"}}), THREADMILL_OK);
  EXPECT_EQ(Heartbeat(), THREADMILL_OK);
  EXPECT_TRUE(Records("ran").empty());
}

// The shipped example: heartbeat sends and remembers the thread, the answer in that thread is
// matched and drafted, other mail is acknowledged.
TEST_F(SessionTest, CampaignExampleSendsMatchesAndDrafts) {
  host_.accept_sends = true;
  host_.config = {{"campaign_to", "alice@example.org"},
                  {"campaign_subject", "Lunch on Friday?"},
                  {"campaign_text", "Shall we meet at noon?"},
                  {"draft_text", "Thanks, see you there."},
                  {"ack_text", "Your message has arrived."}};
  ASSERT_EQ(Load(THREADMILL_EXEC_EXAMPLES "/campaign.py"), THREADMILL_OK);
  ASSERT_EQ(Heartbeat(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.sends.size(), 1u);
  EXPECT_EQ(host_.sends[0].to, std::vector<std::string>{"alice@example.org"});
  EXPECT_EQ(host_.sends[0].subject, "Lunch on Friday?");
  EXPECT_EQ(host_.kv["sent:alice@example.org"], "thread-1");
  EXPECT_EQ(json::parse(host_.kv["thread:thread-1"])["state"], "sent");
  ASSERT_EQ(Heartbeat(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(host_.sends.size(), 1u);  // remembered: not sent twice

  mail_.channel_thread_id = "thread-1";  // Alice answers in the campaign's thread
  host_.raw = "From: alice@example.org\r\n\r\nFriday is fine.\r\n";
  host_.OfferAbi11Slots();
  host_.thread_messages = {
      {sizeof(threadmill_thread_message), THREADMILL_DIR_OUTBOUND, 100, "<c1@example.com>",
       "news@example.com", "Lunch on Friday?", ""},
      {sizeof(threadmill_thread_message), THREADMILL_DIR_INBOUND, 150, "<a1@example.org>",
       "alice@example.org", "Re: Lunch on Friday?", "<c1@example.com>"}};
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  json received = json::parse(host_.kv["received:thread-1"]);
  EXPECT_EQ(received["raw_size"], host_.raw.size());
  EXPECT_EQ(received["messages"][1], json::array({"inbound", "<a1@example.org>"}));
  ASSERT_EQ(host_.drafts.size(), 1u);
  EXPECT_EQ(host_.drafts[0].text, "Thanks, see you there.");
  EXPECT_TRUE(host_.replies.empty());
  json record = json::parse(host_.kv["thread:thread-1"]);
  EXPECT_EQ(record["state"], "answered");
  EXPECT_EQ(record["draft_id"], "draft-1");
  EXPECT_EQ(host_.kv["answer:thread-1"], mail_.reply_text);
  EXPECT_TRUE(host_.Logged("(1 of 1 answered)")) << host_.AllLogs();

  mail_.channel_thread_id = "thread-other";
  mail_.channel_message_id = "<m2@example.org>";
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].text, "Your message has arrived.");
  EXPECT_EQ(host_.replies[0].message_id, "<m2@example.org>");

  host_.kv_status = THREADMILL_STORE;  // store trouble: the example asks for a retry
  EXPECT_EQ(Run(), THREADMILL_RETRY) << host_.AllLogs();
}

}  // namespace
}  // namespace threadmill::test
