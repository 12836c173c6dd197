// autoreply_test.cc - the autoreply handler, loaded from its real .so (THREADMILL_AUTOREPLY_MODULE)
// and driven through the C ABI with a host test double (host_double.h; the real host is the
// runtime's, tested there and end to end through Postfix).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../host_double.h"

namespace threadmill::test {
namespace {

using nlohmann::json;

constexpr int64_t kDay = 86400;

class AutoreplyTest : public ::testing::Test {
 protected:
  int Load(json config) {
    module_ = std::make_unique<Module>(THREADMILL_AUTOREPLY_MODULE);
    return module_->Init(&host_, config.dump());
  }
  int LoadDefault() {
    return Load({{"template",
                  "Hello {sender_name},\nI am away; your mail \"{subject}\" "
                  "to {user} from {sender} will wait. {{braces}}"}});
  }
  int Run() { return module_->OnInbound(mail_.envelope()); }

  HostDouble host_;
  EnvelopeData mail_;
  std::unique_ptr<Module> module_;
};

TEST_F(AutoreplyTest, ExportsTheV1EntryTable) {
  Module m(THREADMILL_AUTOREPLY_MODULE);
  ASSERT_NE(m.table(), nullptr);
  EXPECT_STREQ(m.table()->name, "autoreply");
  EXPECT_EQ(m.table()->abi_major, THREADMILL_ABI_MAJOR);
}

TEST_F(AutoreplyTest, RendersThePlaceholders) {
  ASSERT_EQ(LoadDefault(), THREADMILL_OK) << host_.AllLogs();
  EXPECT_EQ(Run(), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(host_.replies.size(), 1u) << host_.AllLogs();
  EXPECT_EQ(host_.replies[0].message_id, "<m1@example.org>");
  EXPECT_EQ(host_.replies[0].text,
            "Hello Alice Example,\nI am away; your mail \"Lunch on Friday?\" to "
            "bob@example.net from alice@example.org will wait. {braces}");
  EXPECT_FALSE(host_.replies[0].has_html);
  EXPECT_EQ(host_.kv["sent:alice@example.org"], "1700000000");
}

TEST_F(AutoreplyTest, SenderNameFallsBackToTheFromAddress) {
  mail_.sender_name = "";
  ASSERT_EQ(Load({{"template", "Hi {sender_name}"}}), THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK);
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].text, "Hi alice@example.org");
}

TEST_F(AutoreplyTest, HtmlTemplateEscapesValues) {
  mail_.subject = "<b>Tom & Jerry</b>";
  ASSERT_EQ(Load({{"template", "Re {subject}"}, {"html_template", "<p>{subject}</p>"}}),
            THREADMILL_OK);
  ASSERT_EQ(Run(), THREADMILL_OK);
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].text, "Re <b>Tom & Jerry</b>");
  EXPECT_TRUE(host_.replies[0].has_html);
  EXPECT_EQ(host_.replies[0].html, "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>");
}

TEST_F(AutoreplyTest, TemplateFileIsRead) {
  std::string path = ::testing::TempDir() + "autoreply_template.txt";
  std::ofstream(path) << "Away until Monday, {sender_name}.\n";
  ASSERT_EQ(Load({{"template_file", path}}), THREADMILL_OK) << host_.AllLogs();
  ASSERT_EQ(Run(), THREADMILL_OK);
  ASSERT_EQ(host_.replies.size(), 1u);
  EXPECT_EQ(host_.replies[0].text, "Away until Monday, Alice Example.\n");
  unlink(path.c_str());
}

TEST_F(AutoreplyTest, AnswersOncePerSenderPerPeriod) {
  ASSERT_EQ(Load({{"template", "away"}, {"days", 7}}), THREADMILL_OK);
  const int64_t t0 = mail_.received_time;
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 1u);

  mail_.channel_message_id = "<m2@example.org>";
  mail_.received_time = t0 + 6 * kDay;
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 1u) << "answered twice within 7 days";
  EXPECT_TRUE(host_.Logged("already answered"));

  mail_.sender_address = "Carol@Example.org";  // another sender is answered at once
  mail_.channel_message_id = "<m3@example.org>";
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 2u);
  EXPECT_EQ(host_.kv.count("sent:carol@example.org"), 1u);

  mail_.sender_address = "ALICE@example.org";  // same sender, other case: still tracked
  mail_.received_time = t0 + 6 * kDay + 1;
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 2u);

  mail_.channel_message_id = "<m4@example.org>";
  mail_.received_time = t0 + 7 * kDay;
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 3u) << "not answered again after the period";
  EXPECT_EQ(host_.kv["sent:alice@example.org"], std::to_string(t0 + 7 * kDay));
}

TEST_F(AutoreplyTest, SkipsAutomaticListAndSystemMail) {
  ASSERT_EQ(LoadDefault(), THREADMILL_OK);
  struct Case {
    const char* name;
    void (*change)(EnvelopeData&);
    const char* logged;
  };
  const Case cases[] = {
      {"null sender", [](EnvelopeData& m) { m.sender_address = ""; }, "null sender"},
      {"auto-submitted flag", [](EnvelopeData& m) { m.flags = THREADMILL_ENV_AUTO_SUBMITTED; },
       "auto-submitted"},
      {"list flag", [](EnvelopeData& m) { m.flags = THREADMILL_ENV_LIST; }, "mailing list"},
      {"bulk flag", [](EnvelopeData& m) { m.flags = THREADMILL_ENV_BULK; }, "bulk"},
      {"no-reply flag",
       [](EnvelopeData& m) {
         m.flags = THREADMILL_ENV_NO_REPLY;
         m.no_reply_reason = "references";
       },
       "references"},
      {"MAILER-DAEMON", [](EnvelopeData& m) { m.sender_address = "MAILER-DAEMON@mx.example.org"; },
       "system sender"},
      {"owner-", [](EnvelopeData& m) { m.sender_address = "owner-golf@lists.example.org"; },
       "system sender"},
      {"-request", [](EnvelopeData& m) { m.sender_address = "golf-request@lists.example.org"; },
       "system sender"},
      {"noreply", [](EnvelopeData& m) { m.sender_address = "noreply@shop.example"; },
       "system sender"},
      {"Auto-Submitted header",
       [](EnvelopeData& m) {
         m.headers.push_back({"Auto-Submitted", "auto-replied"});
       },
       "Auto-Submitted"},
      {"Precedence header",
       [](EnvelopeData& m) {
         m.headers.push_back({"Precedence", "bulk"});
       },
       "Precedence"},
      {"List-Id header",
       [](EnvelopeData& m) {
         m.headers.push_back({"List-Id", "<golf.lists.example.org>"});
       },
       "List-Id"},
      {"X-Auto-Response-Suppress",
       [](EnvelopeData& m) {
         m.headers.push_back({"X-Auto-Response-Suppress", "OOF, DR"});
       },
       "X-Auto-Response-Suppress"},
      {"own address", [](EnvelopeData& m) { m.sender_address = "Bob@example.net"; }, "own address"},
  };
  for (const Case& c : cases) {
    EnvelopeData mail;
    c.change(mail);
    host_.logs.clear();
    EXPECT_EQ(module_->OnInbound(mail.envelope()), THREADMILL_OK) << c.name;
    EXPECT_TRUE(host_.replies.empty()) << c.name;
    EXPECT_TRUE(host_.Logged(c.logged)) << c.name << ": " << host_.AllLogs();
  }
  EXPECT_TRUE(host_.kv.empty());
  // Auto-Submitted: no is a person's mail.
  mail_.headers.push_back({"Auto-Submitted", "no"});
  EXPECT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 1u) << host_.AllLogs();
}

TEST_F(AutoreplyTest, OnlyAnswersMailAddressedToTheUser) {
  ASSERT_EQ(Load({{"template", "away"}, {"addresses", {"Robert@Example.net"}}}), THREADMILL_OK);
  mail_.headers = {{"To", "golf-fans@example.com"}, {"Cc", "someone@example.com"}};
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_TRUE(host_.replies.empty());
  EXPECT_TRUE(host_.Logged("not addressed to bob@example.net")) << host_.AllLogs();

  mail_.headers = {{"To", "golf-fans@example.com"}, {"CC", "\"Rob\" <robert@example.NET>"}};
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 1u) << host_.AllLogs();
}

TEST_F(AutoreplyTest, AddressedCheckCanBeSwitchedOff) {
  ASSERT_EQ(Load({{"template", "away"}, {"only_if_addressed", false}}), THREADMILL_OK);
  mail_.headers = {{"To", "golf-fans@example.com"}};
  ASSERT_EQ(Run(), THREADMILL_OK);
  EXPECT_EQ(host_.replies.size(), 1u) << host_.AllLogs();
}

TEST_F(AutoreplyTest, RefusalIsLoggedAndNotRecorded) {
  ASSERT_EQ(LoadDefault(), THREADMILL_OK);
  host_.RefuseReplies(THREADMILL_REFUSED, "dmarc");
  EXPECT_EQ(Run(), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("refused: dmarc")) << host_.AllLogs();
  EXPECT_TRUE(host_.kv.empty()) << "a refused answer must not start the period";
}

TEST_F(AutoreplyTest, StoreTroubleIsRetry) {
  ASSERT_EQ(LoadDefault(), THREADMILL_OK);
  host_.kv_status = THREADMILL_STORE;
  host_.last_error = "map full";
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  EXPECT_TRUE(host_.replies.empty());
  EXPECT_TRUE(host_.Logged("kv_get sent:alice@example.org failed (status 4 (map full))"))
      << host_.AllLogs();
  host_.kv_status = THREADMILL_OK;
  host_.RefuseReplies(THREADMILL_STORE, "");
  EXPECT_EQ(Run(), THREADMILL_RETRY);
  host_.RefuseReplies(THREADMILL_INVALID, "not utf-8");
  EXPECT_EQ(Run(), THREADMILL_FAIL);
}

TEST_F(AutoreplyTest, BadConfigurationRefusesInit) {
  EXPECT_NE(Load(json::object()), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("template or template_file is required")) << host_.AllLogs();
  EXPECT_NE(Load({{"template", "Hi {sendr}"}}), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("unknown placeholder {sendr}")) << host_.AllLogs();
  EXPECT_NE(Load({{"template", "x"}, {"days", 0}}), THREADMILL_OK);
  EXPECT_NE(Load({{"template", "x"}, {"template_file", "/etc/hostname"}}), THREADMILL_OK);
  EXPECT_NE(Load({{"template_file", "/nonexistent/away.txt"}}), THREADMILL_OK);
  EXPECT_EQ(Load({{"template", "x"}, {"subject", "Away: {subject}"}}), THREADMILL_OK);
  EXPECT_TRUE(host_.Logged("subject is ignored")) << host_.AllLogs();
}

}  // namespace
}  // namespace threadmill::test
