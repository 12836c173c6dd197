// kv_drafts_commands_test.cc - the real threadmillctl over a real store: kv put/get/list
// (start-after paging, limits, TTL) /delete with hostile keys escaped on output, and drafts
// edit (--file and $EDITOR) / reject --note recorded with the draft and its handler told (a
// draft-decision job). Approval through the real Postfix: tests/e2e/test_drafts.py.
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ctl_run.h"
#include "runtime/drafts.h"
#include "runtime/job_queue.h"
#include "store/environment.h"
#include "support/temp_dir.h"

namespace threadmill::ctl {
namespace {

class CtlCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    conf_ = "-c " + WriteConf(dir_.str() + "/c.conf", dir_.str() + "/store") + " ";
  }
  std::string Ok(const std::string& cmd, const std::string& env_prefix = "") {
    int status = -1;
    std::string out = RunCtl(conf_ + cmd, &status, env_prefix);
    EXPECT_EQ(status, 0) << cmd << ": " << out;
    return out;
  }
  int Status(const std::string& cmd) {
    int status = -1;
    RunCtl(conf_ + cmd, &status);
    return status;
  }
  std::shared_ptr<store::Environment> Env() {
    store::EnvOptions options;
    options.path = dir_.str() + "/store";
    auto env = store::Environment::Open(options);
    EXPECT_TRUE(env.ok()) << env.error().message;
    return env.ok() ? *env : nullptr;
  }

  testing::TempDir dir_;
  std::string conf_;
};

TEST_F(CtlCommands, KvPutListPagesGetDelete) {
  for (int i = 0; i < 12; ++i)
    Ok("kv put bot item:" + std::to_string(10 + i) + " v" + std::to_string(i));
  Ok("kv put bot \"$(printf 'evil\\033[31m')\" \"$(printf 'bell\\007')\"");
  // Paging: --limit 5 pages, each after the last key of the one before.
  std::vector<std::string> keys;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    std::string out =
        Ok("--json kv list bot item: --limit 5" + (after.empty() ? "" : " --after " + after));
    auto j = nlohmann::json::parse(out);
    for (const auto& e : j) keys.push_back(e["key"]);
    if (j.size() < 5) break;
    after = j.back()["key"];
  }
  ASSERT_EQ(keys.size(), 12u);
  EXPECT_EQ(keys.front(), "item:10");
  EXPECT_EQ(keys.back(), "item:21");
  EXPECT_EQ(Ok("kv get bot item:15"), "v5\n");
  std::string listed = Ok("kv list bot");
  EXPECT_EQ(listed.find('\x1b'), std::string::npos) << "escaped as the other commands";
  EXPECT_NE(listed.find("evil\\x1B[31m\tbell\\x07"), std::string::npos) << listed;
  std::ofstream(dir_.str() + "/value.bin") << std::string("a\0b", 3);
  Ok("kv put bot binary --file " + dir_.str() + "/value.bin --ttl 3600");
  EXPECT_EQ(Ok("kv get bot binary"), "hex:610062\n");
  Ok("kv delete bot item:15");
  EXPECT_EQ(Status("kv get bot item:15"), 1);
  EXPECT_EQ(Status("kv delete bot item:15"), 1);
  EXPECT_EQ(Status("kv put bot k"), 2);
  EXPECT_EQ(Status("kv put bot k v --ttl soon"), 2);
  EXPECT_EQ(Status("kv put bot '' v"), 1) << "an empty key is invalid";
}

TEST_F(CtlCommands, DraftsEditWithFileAndEditorThenRejectWithNoteTellsTheHandler) {
  std::string id;
  {
    auto env = Env();
    ASSERT_TRUE(env);
    runtime::DraftStore drafts(env);
    runtime::Draft d;
    d.handler = "bot";
    d.facts.message_id = "in@example.org";
    d.facts.thread_id = "T1";
    d.content = {"Model text", "<p>Model text</p>", ""};
    id = *drafts.Create(d);
  }
  std::ofstream(dir_.str() + "/new.txt") << "Edited from a file\n";
  Ok("drafts edit " + id + " --file " + dir_.str() + "/new.txt --note 'first pass'");
  // $EDITOR gets the current text in a file and changes it in place.
  std::string editor = dir_.str() + "/editor.sh";
  std::ofstream(editor) << "#!/bin/sh\nsed -i 's/from a file/by the editor/' \"$1\"\n";
  ASSERT_EQ(chmod(editor.c_str(), 0755), 0);
  Ok("drafts edit " + id + " --note second", "VISUAL= EDITOR=" + editor + " ");
  // An editor that changes nothing leaves the draft as it is.
  Ok("drafts edit " + id, "VISUAL= EDITOR=true ");
  Ok("drafts reject " + id + " --note 'not our policy'");
  auto shown = nlohmann::json::parse(Ok("--json drafts show " + id));
  EXPECT_EQ(shown["text"], "Edited by the editor\n");
  EXPECT_EQ(shown["html"], "") << "an edit drops the HTML part";
  EXPECT_EQ(shown["state"], "rejected");
  EXPECT_EQ(shown["decision"], "rejected");
  EXPECT_EQ(shown["edited"], true);
  ASSERT_EQ(shown["history"].size(), 3u) << shown.dump();
  EXPECT_EQ(shown["history"][0]["action"], "edited");
  EXPECT_EQ(shown["history"][0]["note"], "first pass");
  EXPECT_EQ(shown["history"][1]["note"], "second");
  EXPECT_EQ(shown["history"][2]["action"], "rejected");
  EXPECT_EQ(shown["history"][2]["note"], "not our policy");
  EXPECT_EQ(shown["history"][2]["by"], runtime::CurrentUnixUser());
  EXPECT_EQ(Status("drafts edit " + id + " --file " + dir_.str() + "/new.txt"), 1)
      << "a decided draft is not edited";
  EXPECT_EQ(Status("drafts approve " + id), 1);
  EXPECT_EQ(Status("drafts reject " + id + " --file x"), 2);
  // The handler is told: one draft-decision job in its queue.
  auto env = Env();
  ASSERT_TRUE(env);
  runtime::JobQueue queue(env, dir_.str() + "/store/spool");
  auto jobs = queue.List(10);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].kind, runtime::kDraftDecisionJob);
  EXPECT_EQ((*jobs)[0].draft_id, id);
  EXPECT_EQ((*jobs)[0].handler, "bot");
}

}  // namespace
}  // namespace threadmill::ctl
