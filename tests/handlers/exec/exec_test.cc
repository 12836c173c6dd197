// exec_test.cc - the exec handler, loaded from its real .so (THREADMILL_EXEC_MODULE) and driven
// through the C ABI with a host test double (host_double.h; the real host is the runtime's,
// tested there and end to end through Postfix). The programs it runs are small /bin/sh
// scripts written by each test into a fresh temporary folder.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../host_double.h"

namespace threadmill::test {
namespace {

using nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "exec_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    module_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  // Writes an executable /bin/sh script with `body`; its $1 is the test folder.
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
  }

  // Loads the module and inits it with command = [program, dir_] plus `extra` config.
  int Load(const std::string& program, json extra = json::object()) {
    extra["command"] = {program, dir_};
    if (!extra.contains("timeout_seconds")) extra["timeout_seconds"] = 10;
    module_ = std::make_unique<Module>(THREADMILL_EXEC_MODULE);
    return module_->Init(&host_, extra.dump());
  }

  int Run() { return module_->OnInbound(mail_.envelope()); }

  std::string dir_;
  HostDouble host_;
  EnvelopeData mail_;
  std::unique_ptr<Module> module_;
};

TEST_F(ExecTest, ExportsTheV1EntryTable) {
  Module m(THREADMILL_EXEC_MODULE);
  ASSERT_NE(m.table(), nullptr);
  EXPECT_EQ(m.table()->abi_major, THREADMILL_ABI_MAJOR);
  EXPECT_EQ(m.table()->struct_size, sizeof(threadmill_handler));
  EXPECT_STREQ(m.table()->name, "exec");
}

TEST_F(ExecTest, ReplyAnswerCallsHostReplyWithTextAndHtml) {
  ASSERT_EQ(Load(Script("p",
                        "cat >/dev/null\n"
                        "printf '{\"action\":\"reply\",\"text\":\"On it.\","
                        "\"html\":\"<p>On it.</p>\"}'")),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].message_id, "<m1@example.org>");
  EXPECT_EQ(host_.replies[0].text, "On it.");
  EXPECT_TRUE(host_.replies[0].has_html);
  EXPECT_EQ(host_.replies[0].html, "<p>On it.</p>");
  EXPECT_TRUE(host_.drafts.empty());
}

TEST_F(ExecTest, StdinCarriesEveryEnvelopeField) {
  mail_.attachments.push_back({"f-1", "plan.pdf", "application/pdf", 1234});
  mail_.flags = THREADMILL_ENV_THREAD_KNOWN | THREADMILL_ENV_LIST;
  mail_.thread_owner = "exec";
  mail_.parent_message_id = "<ours1@example.com>";
  mail_.references_count = 3;
  ASSERT_EQ(Load(Script("p", "cat > \"$1/stdin.json\"\necho '{\"action\":\"none\"}'")),
            THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  json got = json::parse(ReadFile(dir_ + "/stdin.json"));
  EXPECT_EQ(got["channel"], "email");
  EXPECT_EQ(got["channel_thread_id"], "thread-1");
  EXPECT_EQ(got["channel_message_id"], "<m1@example.org>");
  EXPECT_EQ(got["sender"], "alice@example.org");
  EXPECT_EQ(got["sender_name"], "Alice Example");
  EXPECT_EQ(got["from_address"], "alice@example.org");
  EXPECT_EQ(got["user_id"], "bob@example.net");
  EXPECT_EQ(got["subject"], "Lunch on Friday?");
  EXPECT_EQ(got["message_text"], mail_.message_text);
  EXPECT_EQ(got["reply_text"], mail_.reply_text);
  ASSERT_EQ(got["attachments"].size(), 1u);
  EXPECT_EQ(got["attachments"][0], json({{"file_id", "f-1"},
                                         {"filename", "plan.pdf"},
                                         {"content_type", "application/pdf"},
                                         {"size", 1234}}));
  EXPECT_EQ(got["dmarc"], "pass");
  EXPECT_EQ(got["spf"], "pass");
  EXPECT_EQ(got["dkim"], "pass");
  EXPECT_EQ(got["references_count"], 3);
  EXPECT_EQ(got["flags"]["thread_known"], true);
  EXPECT_EQ(got["flags"]["list"], true);
  EXPECT_EQ(got["flags"]["auto_submitted"], false);
  EXPECT_EQ(got["queue_id"], "4XyZ1234");
  EXPECT_EQ(got["received_time"], 1700000000);
  EXPECT_EQ(got["thread_owner"], "exec");
  EXPECT_EQ(got["parent_message_id"], "<ours1@example.com>");
  EXPECT_EQ(got["headers"][1], json({{"name", "To"}, {"value", "Bob <bob@example.net>"}}));
  EXPECT_EQ(got["job_id"], "job-42");
  EXPECT_EQ(got["attempt"], 1);
}

TEST_F(ExecTest, InvalidUtf8InTheEnvelopeIsReplacedNotFatal) {
  mail_.subject = "caf\xe9";  // Latin-1 byte, not UTF-8
  ASSERT_EQ(Load(Script("p", "cat > \"$1/stdin.json\"")), THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  json got = json::parse(ReadFile(dir_ + "/stdin.json"));
  EXPECT_EQ(got["subject"], "caf\xef\xbf\xbd");
}

TEST_F(ExecTest, EnvironmentIsClearedExceptPathAndConfiguredEnv) {
  setenv("THREADMILL_TEST_LEAK", "secret", 1);
  ASSERT_EQ(Load(Script("p", "/usr/bin/env > \"$1/env.txt\""), {{"env", {{"API_TOKEN", "t0k"}}}}),
            THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  std::string env = ReadFile(dir_ + "/env.txt");
  EXPECT_NE(env.find("PATH=/usr/local/bin:/usr/bin:/bin\n"), std::string::npos) << env;
  EXPECT_NE(env.find("API_TOKEN=t0k\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("THREADMILL_TEST_LEAK"), std::string::npos) << env;
  EXPECT_EQ(env.find("HOME="), std::string::npos) << env;
}

TEST_F(ExecTest, OnlyStandardDescriptorsAreInherited) {
  int leaked = dup(1);  // not close-on-exec
  ASSERT_GE(leaked, 3);
  ASSERT_EQ(Load(Script("p", "ls /proc/self/fd > \"$1/fds.txt\"")), THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  close(leaked);
  // ls itself opens one descriptor for the directory it lists.
  std::string fds = ReadFile(dir_ + "/fds.txt");
  std::istringstream lines(fds);
  int count = 0;
  for (std::string line; std::getline(lines, line);) count++;
  EXPECT_LE(count, 4) << fds;
}

TEST_F(ExecTest, DraftAnswerStoresADraft) {
  ASSERT_EQ(Load(Script("p", "echo '{\"action\":\"draft\",\"text\":\"Proposed answer\"}'")),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_TRUE(host_.replies.empty());
  ASSERT_EQ(host_.drafts.size(), 1u);
  EXPECT_EQ(host_.drafts[0].text, "Proposed answer");
  EXPECT_FALSE(host_.drafts[0].has_html);
  EXPECT_TRUE(host_.Logged("draft-1"));
}

TEST_F(ExecTest, NoneAnswerAndEmptyOutputDoNothing) {
  ASSERT_EQ(Load(Script("p", "echo '{\"action\":\"none\"}'")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK);
  ASSERT_EQ(Load(Script("q", "exit 0")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK);
  EXPECT_TRUE(host_.replies.empty());
  EXPECT_TRUE(host_.drafts.empty());
}

TEST_F(ExecTest, KvPutAndDeleteAreCarriedOut) {
  host_.kv["old"] = "x";
  ASSERT_EQ(Load(Script("p",
                        "echo '{\"kv_put\":{\"seen:1\":\"yes\",\"obj:1\":{\"a\":1}},"
                        "\"kv_delete\":[\"old\"]}'")),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(host_.kv["seen:1"], "yes");
  EXPECT_EQ(host_.kv["obj:1"], "{\"a\":1}");
  EXPECT_EQ(host_.kv.count("old"), 0u);
}

TEST_F(ExecTest, NonZeroExitIsRetryAndLogsStderr) {
  ASSERT_EQ(Load(Script("p", "echo 'database locked' >&2\nexit 3")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("exited with status 3")) << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("database locked")) << host_.AllLogs();
  EXPECT_TRUE(host_.replies.empty());
}

TEST_F(ExecTest, DeathBySignalIsRetry) {
  ASSERT_EQ(Load(Script("p", "kill -9 $$")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("signal 9")) << host_.AllLogs();
}

TEST_F(ExecTest, GarbageOutputIsFailWithALogLine) {
  ASSERT_EQ(Load(Script("p", "echo 'Traceback (most recent call last):'")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_TRUE(host_.Logged("invalid answer")) << host_.AllLogs();
  EXPECT_TRUE(host_.Logged("Traceback")) << host_.AllLogs();
}

TEST_F(ExecTest, WellFormedButWrongAnswersAreFail) {
  for (const char* answer : {"[1,2]", "{\"action\":\"forward\"}", "{\"action\":\"reply\"}",
                             "{\"action\":\"reply\",\"text\":7}", "{\"kv_put\":[1]}"}) {
    ASSERT_EQ(Load(Script("p", std::string("echo '") + answer + "'")), THREADMILL_OK);
    EXPECT_EQ(Run(), THREADMILL_FAIL) << answer;
  }
  EXPECT_TRUE(host_.replies.empty());
}

TEST_F(ExecTest, HangingProgramIsKilledAtTheTimeoutAndRetried) {
  ASSERT_EQ(Load(Script("p", "echo $$ > \"$1/pid\"\nexec sleep 60"), {{"timeout_seconds", 1}}),
            THREADMILL_OK);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_TRUE(host_.Logged("killed after 1 s")) << host_.AllLogs();
  pid_t pid = std::stoi(ReadFile(dir_ + "/pid"));
  EXPECT_NE(kill(pid, 0), 0) << "the program still runs";
}

TEST_F(ExecTest, BackgroundChildrenAreKilledWithTheProgram) {
  // The program exits at once but leaves a child that keeps stdout open.
  ASSERT_EQ(
      Load(Script("p", "sleep 60 &\necho $! > \"$1/pid\"\necho '{}'"), {{"timeout_seconds", 1}}),
      THREADMILL_OK);
  auto start = std::chrono::steady_clock::now();
  Run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  pid_t pid = std::stoi(ReadFile(dir_ + "/pid"));
  // Killed; reaped by init (or a subreaper) shortly after.
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) usleep(20000);
  std::string state = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(state.empty() || state.find(") Z") != std::string::npos) << state;
}

TEST_F(ExecTest, OutputPastTheCapIsKilledAndFails) {
  ASSERT_EQ(Load(Script("p", "exec head -c 50000000 /dev/zero"), {{"max_output_bytes", 65536}}),
            THREADMILL_OK);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(), THREADMILL_FAIL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(host_.Logged("max_output_bytes")) << host_.AllLogs();
}

TEST_F(ExecTest, BigInputAndBigOutputDoNotDeadlock) {
  // The program writes 1 MiB before it reads a 2 MiB envelope: both pipes fill up, and only a
  // parent that writes and reads at once gets through.
  mail_.message_text.assign(2 << 20, 'x');
  ASSERT_EQ(Load(Script("p",
                        "head -c 1048576 /dev/zero | tr '\\000' ' '\n"
                        "wc -c > \"$1/count\"\n"
                        "echo '{\"action\":\"reply\",\"text\":\"big\"}'"),
                 {{"max_output_bytes", 4 << 20}, {"timeout_seconds", 20}}),
            THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_GT(std::stol(ReadFile(dir_ + "/count")), 2 << 20);
}

TEST_F(ExecTest, ProgramThatIgnoresStdinIsFine) {
  mail_.message_text.assign(1 << 20, 'y');
  ASSERT_EQ(Load(Script("p", "exec echo '{\"action\":\"none\"}'")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
}

TEST_F(ExecTest, MissingProgramRefusesInit) {
  EXPECT_NE(Load(dir_ + "/no-such-program"), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("not executable")) << host_.AllLogs();
}

TEST_F(ExecTest, ProgramRemovedAfterInitIsRetry) {
  std::string program = Script("p", "echo '{}'");
  ASSERT_EQ(Load(program), THREADMILL_OK);
  ASSERT_EQ(unlink(program.c_str()), 0);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("cannot start")) << host_.AllLogs();
}

TEST_F(ExecTest, BadConfigurationRefusesInit) {
  module_ = std::make_unique<Module>(THREADMILL_EXEC_MODULE);
  EXPECT_NE(module_->Init(&host_, "{}"), THREADMILL_OK);
  EXPECT_NE(module_->Init(&host_, "{\"command\":[\"relative/prog\"]}"), THREADMILL_OK);
  EXPECT_NE(module_->Init(&host_, "{\"command\":[\"/bin/true\"],\"timeout_seconds\":0}"),
            THREADMILL_OK);
  EXPECT_NE(module_->Init(&host_, "not json"), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("bad configuration")) << host_.AllLogs();
  EXPECT_EQ(module_->Init(&host_, "{\"command\":\"/bin/true\",\"timeout_seconds\":\"5\"}"),
            THREADMILL_OK);
}

TEST_F(ExecTest, RefusedReplyIsLoggedNotAnError) {
  host_.RefuseReplies(THREADMILL_REFUSED, "dmarc");
  ASSERT_EQ(Load(Script("p", "echo '{\"action\":\"reply\",\"text\":\"hi\"}'")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("refused: dmarc")) << host_.AllLogs();
}

TEST_F(ExecTest, StoreTroubleIsRetry) {
  host_.RefuseReplies(THREADMILL_STORE, "");
  ASSERT_EQ(Load(Script("p", "echo '{\"action\":\"reply\",\"text\":\"hi\"}'")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  host_.RefuseReplies(THREADMILL_OK, "");
  host_.kv_status = THREADMILL_STORE;
  ASSERT_EQ(Load(Script("q", "echo '{\"kv_put\":{\"a\":\"b\"}}'")), THREADMILL_OK);
  EXPECT_EQ(Run(), THREADMILL_RETRY);
}

}  // namespace
}  // namespace threadmill::test
