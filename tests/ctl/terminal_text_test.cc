// terminal_text_test.cc - threadmillctl never hands the terminal control characters or
// invalid UTF-8 from the store, and its JSON always parses (issue 8 item 18).
#include "ctl/terminal_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ctl_run.h"
#include "mail/charset.h"
#include "store/environment.h"
#include "store/thread_store.h"
#include "support/temp_dir.h"

namespace threadmill::ctl {
namespace {

TEST(ctl_TerminalText, Table) {
  struct Case {
    const char* name;
    std::string in, want;
    bool multiline = false;
  };
  const std::vector<Case> cases = {
      {"plain", "Re: caf\xC3\xA9 \xF0\x9F\x98\x80", "Re: caf\xC3\xA9 \xF0\x9F\x98\x80"},
      {"esc_title", "\x1B]0;pwned\x07x", "\\x1B]0;pwned\\x07x"},
      {"csi_clear", "\x1B[2J", "\\x1B[2J"},
      {"c1_csi",
       "\xC2\x9B"
       "31m",
       "\\u{009B}31m"},
      {"raw_c1_byte",
       "\x9B"
       "31m",
       "\\x9B31m"},
      {"newline_single", "a\r\nb", "a\\x0D\\x0Ab"},
      {"newline_multi", "a\r\nb\tc", "a\\x0D\nb\tc", true},
      {"del_nul", std::string("a\x7F\0b", 4), "a\\x7F\\x00b"},
      {"bidi",
       "abc\xE2\x80\xAE"
       "fdp.exe",
       "abc\\u{202E}fdp.exe"},
      {"invalid_utf8", "\xFF\xC3(\xED\xA0\x80", "\\xFF\\xC3(\\xED\\xA0\\x80"},
      {"truncated_seq", "a\xE2\x82", "a\\xE2\\x82"},
      {"backslash", "C:\\x1B", "C:\\\\x1B"},
  };
  for (const auto& c : cases) EXPECT_EQ(TerminalText(c.in, c.multiline), c.want) << c.name;
}

TEST(ctl_TerminalText, CtlPrintsHostileRecordsSafely) {
  testing::TempDir dir;
  std::string thread_id;
  {
    store::EnvOptions options;
    options.path = dir.str() + "/store";
    options.map_size_bytes = size_t{4} << 20;
    auto env = store::Environment::Open(options);
    ASSERT_TRUE(env.ok()) << env.error().message;
    store::ThreadStore threads(*env);
    store::MessageRecord rec;
    rec.msgid = "\xFF\xFE\x1B[31m@evil.example";  // a stored non-UTF-8 Message-ID
    rec.time = 1700000000;
    rec.from = "a@evil.example";
    rec.subject = "\x1B]0;owned\x07 hi \xC2\x9B\xE2\x80\xAE \xFF";
    auto got = threads.RecordMessage(rec);
    ASSERT_TRUE(got.ok()) << got.error().message;
    thread_id = got->thread_id;
  }
  std::string conf = "-c " + WriteConf(dir.str() + "/c.conf", dir.str() + "/store") + " ";
  for (const std::string& cmd : {"thread " + thread_id, "--json thread " + thread_id}) {
    int status = -1;
    std::string out = RunCtl(conf + cmd, &status);
    EXPECT_EQ(status, 0) << cmd << ": " << out;
    EXPECT_EQ(out.find('\x1B'), std::string::npos) << cmd << ": " << out;
    EXPECT_EQ(out.find('\x07'), std::string::npos) << cmd;
    EXPECT_EQ(out.find("\xC2\x9B"), std::string::npos) << cmd;
    EXPECT_EQ(out.find("\xE2\x80\xAE"), std::string::npos) << cmd;
    EXPECT_TRUE(mail::IsValidUtf8(out)) << cmd;
    if (cmd.starts_with("--json")) {
      auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(j.is_discarded()) << out;
      EXPECT_EQ(j["messages"].size(), 1u) << out;
    } else {
      EXPECT_NE(out.find("\\x1B]0;owned\\x07 hi"), std::string::npos) << out;
    }
  }
}

}  // namespace
}  // namespace threadmill::ctl
