#include "config/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace threadmill::config {
namespace {

TEST(ConfigTest, DefaultsWhenEmpty) {
  auto config = LoadFromString("");
  EXPECT_EQ(config->milter.socket.text, "local:/var/spool/postfix/threadmill/threadmill.sock");
  EXPECT_EQ(config->milter.socket_mode, 0660u);
  EXPECT_EQ(config->milter.user, "threadmill");
  EXPECT_EQ(config->milter.on_internal_error, FailureAction::kAccept);
  EXPECT_FALSE(config->milter.hostname.empty());
  EXPECT_EQ(config->log.target, "syslog");
  EXPECT_EQ(config->log.facility, "mail");
  EXPECT_EQ(config->store.path, "/var/lib/threadmill");
  EXPECT_EQ(config->threading.max_references, 100u);
  ASSERT_EQ(config->direction.internal_hosts.size(), 2u);
  EXPECT_EQ(config->direction.submission_daemons, std::vector<std::string>{"ORIGINATING"});
}

TEST(ConfigTest, PackagedSampleIsValid) {
  auto config = Load(std::string(THREADMILL_SOURCE_DIR) + "/conf/threadmill.conf");
  EXPECT_EQ(config->milter.socket.kind, SocketSpec::Kind::kUnix);
  EXPECT_EQ(config->store.retention_days, 180);
}

TEST(ConfigTest, ReadsValues) {
  auto config = LoadFromString(R"(
[milter]
socket = "inet:9999@127.0.0.1"
socket_mode = "0600"
user = ""
on_store_error = "tempfail"
hostname = "mx.example.com"
[log]
target = "stderr"
level = "debug"
[store]
path = "/tmp/tm"
retention_days = 7
[direction]
internal_hosts = ["192.0.2.0/24"]
submission_daemons = []
[threading]
max_references = 50
use_thread_index = false
)");
  EXPECT_EQ(config->milter.socket.port, 9999);
  EXPECT_EQ(config->milter.socket_mode, 0600u);
  EXPECT_EQ(config->milter.user, "");
  EXPECT_EQ(config->milter.on_store_error, FailureAction::kTempfail);
  EXPECT_EQ(config->milter.hostname, "mx.example.com");
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_EQ(config->store.retention_days, 7);
  ASSERT_EQ(config->direction.internal_hosts.size(), 1u);
  EXPECT_TRUE(config->direction.submission_daemons.empty());
  EXPECT_EQ(config->threading.max_references, 50u);
  EXPECT_FALSE(config->threading.use_thread_index);
}

struct BadCase {
  const char* text;
  const char* message_part;
};

TEST(ConfigTest, ErrorsNameTheKey) {
  const BadCase cases[] = {
      {"[milter]\nsocket = \"tcp:1\"", "milter.socket"},
      {"[milter]\nsokcet = \"local:/x\"", "milter.sokcet: unknown key"},
      {"[miltr]\n", "unknown section [miltr]"},
      {"[milter]\non_internal_error = \"reject\"", "milter.on_internal_error"},
      {"[milter]\nsocket_mode = \"rw\"", "milter.socket_mode"},
      {"[milter]\nadd_message_id = \"yes\"", "must be true or false"},
      {"[log]\ntarget = \"journal\"", "log target"},
      {"[log]\nlevel = \"loud\"", "unknown log level"},
      {"[store]\npath = \"relative\"", "store.path"},
      {"[store]\nretention_days = -1", "store.retention_days: must be between 0 and 36500"},
      {"[store]\nbackend = \"redis\"", "store.backend: must be \"lmdb\" or \"postgresql\""},
      {"[store]\nconnect_timeout_ms = 50",
       "store.connect_timeout_ms: must be between 100 and 20000"},
      {"[store]\nstatement_timeout_ms = 60000", "store.statement_timeout_ms: must be between"},
      {"[store]\ndsn = \"host=db\"", "store.dsn: is only used with backend = \"postgresql\""},
      {"[store]\ndsn_file = \"/etc/x\"", "store.dsn_file: is only used with backend"},
      {"[store]\nbackend = \"postgresql\"", "store.dsn: backend = \"postgresql\" needs dsn"},
      {"[store]\nbackend = \"postgresql\"\ndsn = \"a\"\ndsn_file = \"/b\"",
       "store.dsn: give dsn or dsn_file, not both"},
      {"[store]\nbackend = \"postgresql\"\ndsn_file = \"rel\"",
       "store.dsn_file: must be an absolute path"},
      {"[store]\nbackend = \"postgresql\"\ndsn_file = \"/nonexistent/dsn\"", "store.dsn_file: "},
      {"[store]\nbackend = \"postgresql\"\ndsn = \"a\"\njob_lease_seconds = -1",
       "store.job_lease_seconds"},
      {"[direction]\ninternal_hosts = [\"10.0.0.0/99\"]", "direction.internal_hosts"},
      {"[direction]\ninternal_hosts = \"127.0.0.1\"", "must be an array of strings"},
      {"[threading]\nmax_references = \"100\"", "must be an integer"},
      {"[milter]\nmax_header_fields = 10", "milter.max_header_fields"},
      {"[milter]\nmax_header_field_bytes = 0", "milter.max_header_field_bytes"},
      {"[auth]\non_too_many_forged = \"delete\"", "auth.on_too_many_forged"},
      {"[auth]\nmax_forged_deletions = -1", "auth.max_forged_deletions"},
      {"[auth]\nreauth_window_seconds = -1", "auth.reauth_window_seconds"},
      {"[auth]\nreauth_retry_seconds = 0", "auth.reauth_retry_seconds"},
      {"[milter\n", "config:"},
  };
  for (const auto& c : cases) {
    try {
      LoadFromString(c.text);
      ADD_FAILURE() << "accepted: " << c.text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos)
          << e.what() << " (wanted " << c.message_part << ")";
    }
  }
}

// [store] backend = "postgresql" with dsn_file: the file is read as a secret (no group/world
// access); a readable-by-owner-only file gives the DSN. backend = "postgresql" is accepted.
TEST(ConfigTest, StoreDsnFileIsASecret) {
  EXPECT_EQ(LoadFromString("")->store.backend, "lmdb");
  EXPECT_EQ(LoadFromString("")->store.connect_timeout_ms, 2000);
  EXPECT_EQ(LoadFromString("")->store.statement_timeout_ms, 3000);
  EXPECT_EQ(LoadFromString("[store]\nstatement_timeout_ms = 800\n")->store.statement_timeout_ms,
            800);
  EXPECT_EQ(LoadFromString("[store]\nbackend = \"lmdb\"\n")->store.dsn, "");
  char tmpl[] = "/tmp/threadmill-config-XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  const std::filesystem::path dir(tmpl);
  const std::string file = (dir / "dsn").string();
  std::ofstream(file) << "host=db.example user=threadmill password=secret\n";
  const std::string text = "[store]\nbackend = \"postgresql\"\ndsn_file = \"" + file + "\"\n";
  auto expect_error = [&](const std::string& part) {
    try {
      LoadFromString(text);
      ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
  };
  std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::group_read);
  expect_error("store.dsn_file: ");
  std::filesystem::permissions(file, std::filesystem::perms::owner_read);
  auto loaded = LoadFromString(text);
  EXPECT_EQ(loaded->store.backend, "postgresql");
  EXPECT_EQ(loaded->store.dsn, "host=db.example user=threadmill password=secret");
  auto inline_dsn =
      LoadFromString("[store]\nbackend = \"postgresql\"\ndsn = \"host=db dbname=tm\"\n");
  EXPECT_EQ(inline_dsn->store.dsn, "host=db dbname=tm");
  EXPECT_EQ(inline_dsn->store.job_lease_seconds, 0);  // derived from the job timeout
  auto lease = LoadFromString(
      "[store]\nbackend = \"postgresql\"\ndsn = \"host=db\"\njob_lease_seconds = 30\n");
  EXPECT_EQ(lease->store.job_lease_seconds, 30);
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, HostileMailCapsHaveDefaults) {
  auto c = LoadFromString("");
  EXPECT_EQ(c->milter.max_header_fields, 10000u);
  EXPECT_EQ(c->milter.max_header_field_bytes, 65536u);
  EXPECT_EQ(c->auth.max_forged_deletions, 32u);
  EXPECT_FALSE(c->auth.too_many_forged_tempfail);
  auto t = LoadFromString("[auth]\nmax_forged_deletions = 0\non_too_many_forged = \"tempfail\"\n");
  EXPECT_EQ(t->auth.max_forged_deletions, 0u);
  EXPECT_TRUE(t->auth.too_many_forged_tempfail);
  // ARC (RFC 8617): verified by default, no trusted sealers.
  EXPECT_TRUE(c->auth.arc);
  EXPECT_TRUE(c->auth.arc_trusted_sealers.empty());
  auto a = LoadFromString("[auth]\narc = false\narc_trusted_sealers = [\"lists.example\"]\n");
  EXPECT_FALSE(a->auth.arc);
  EXPECT_EQ(a->auth.arc_trusted_sealers, (std::vector<std::string>{"lists.example"}));
}

// A routed job whose verdict waited for DNS (runtime/reauth.h): the window and the retry.
TEST(ConfigTest, ReauthWindowHasDefaults) {
  auto c = LoadFromString("");
  EXPECT_EQ(c->auth.reauth_window_seconds, 3600);
  EXPECT_EQ(c->auth.reauth_retry_seconds, 15);
  auto t = LoadFromString("[auth]\nreauth_window_seconds = 0\nreauth_retry_seconds = 2\n");
  EXPECT_EQ(t->auth.reauth_window_seconds, 0);
  EXPECT_EQ(t->auth.reauth_retry_seconds, 2);
}

TEST(ConfigTest, LocalOverrideWins) {
  char tmpl[] = "/tmp/threadmill-config-XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  std::filesystem::path dir(tmpl);
  std::ofstream(dir / "threadmill.conf") << "[store]\npath = \"/a\"\nretention_days = 9\n";
  std::ofstream(dir / "threadmill.local.conf") << "[store]\npath = \"/b\"\n";
  auto config = Load((dir / "threadmill.conf").string());
  EXPECT_EQ(config->store.path, "/b");
  EXPECT_EQ(config->store.retention_days, 9);
  EXPECT_EQ(config->files.size(), 2u);
  EXPECT_EQ(LocalOverridePath("/etc/threadmill/threadmill.conf"),
            "/etc/threadmill/threadmill.local.conf");
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, MissingFileIsAnError) {
  EXPECT_THROW(Load("/nonexistent/threadmill.conf"), ConfigError);
}

}  // namespace
}  // namespace threadmill::config

namespace threadmill::config {
namespace {

TEST(ConfigTest, ReplyTokenKeys) {
  auto dir = std::filesystem::temp_directory_path() /
             ("tm-token-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, std::filesystem::perms perms) {
    std::string path = (dir / name).string();
    std::ofstream(path) << "0123456789abcdef-" << name << "\n";
    std::filesystem::permissions(path, perms);
    return path;
  };
  std::string good = write("good", std::filesystem::perms::owner_read);
  std::string open =
      write("open", std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
                        std::filesystem::perms::others_read);
  EXPECT_EQ(LoadFromString("")->threading.reply_token, ReplyTokenMode::kOff);
  EXPECT_EQ(LoadFromString("")->threading.token_lifetime_days, 90);
  auto config = LoadFromString("[threading]\nreply_token = \"from\"\ntoken_key_files = [\"" + good +
                               "\"]\ntoken_lifetime_days = 30\n");
  EXPECT_EQ(config->threading.reply_token, ReplyTokenMode::kFrom);
  EXPECT_EQ(config->threading.token_lifetime_days, 30);
  EXPECT_EQ(config->threading.token_keys, std::vector<std::string>{"0123456789abcdef-good"});
  struct Case {
    const char* name;
    std::string text;
    const char* error;
  } errors[] = {
      {"unknown mode", "[threading]\nreply_token = \"to\"\n", "reply_token"},
      {"mode without keys", "[threading]\nreply_token = \"reply-to\"\n", "token_key_files"},
      {"world-readable key", "[threading]\ntoken_key_files = [\"" + open + "\"]\n",
       "group or world accessible"},
      {"missing key", "[threading]\ntoken_key_files = [\"" + (dir / "none").string() + "\"]\n",
       "token_key_files"},
      {"lifetime 0", "[threading]\ntoken_lifetime_days = 0\n", "token_lifetime_days"},
  };
  for (const Case& c : errors) {
    try {
      LoadFromString(c.text);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos)
          << c.name << ": " << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace threadmill::config
