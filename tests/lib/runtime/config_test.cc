// [[routes]], [handler.NAME], [runtime], [reply] parsing, and the router (table-driven).
#include <gtest/gtest.h>

#include "runtime/router.h"
#include "runtime/runtime_config.h"

namespace threadmill::runtime {
namespace {

RuntimeConfig Parse(const std::string& text) {
  return ParseRuntimeConfig(*config::LoadFromString(text, "test.conf"));
}

std::string ErrorOf(const std::string& text) {
  try {
    Parse(text);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(RuntimeConfig, Defaults) {
  RuntimeConfig c = Parse("");
  EXPECT_EQ(c.handlers_dir, "/etc/threadmill/handlers.d");
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.worker_memory_mb, 512);
  EXPECT_EQ(c.thread_messages_max, 1000);
  EXPECT_EQ(c.reply.max_message_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(c.stop_timeout_seconds, 10);
  EXPECT_TRUE(c.reply.require_dmarc);
  EXPECT_EQ(c.reply.sendmail, std::vector<std::string>{"/usr/sbin/sendmail"});
  EXPECT_EQ(c.reply.max_references, 100u);
  // Beyond Postfix's 60 s maildrop rescan: a reply handed to maildrop while the milter was
  // down echoes only then (tests/bench/chaos/run, fault daemon-drop).
  EXPECT_GT(c.reply.reinject_confirm_seconds, 60);
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.spool_quota_mb, 2048);
  EXPECT_EQ(c.max_routed_recipients, 100);
  EXPECT_EQ(c.draft_expiry_hours, 168);
  EXPECT_EQ(c.DraftExpirySeconds("anyone"), 168 * 3600);
}

TEST(RuntimeConfig, DraftExpiryPerHandlerOverRuntime) {
  RuntimeConfig c = Parse(
      "[runtime]\ndraft_expiry_hours = 24\n[handler.slow]\ndraft_expiry_hours = 0\n"
      "[handler.fast]\ndraft_expiry_hours = 2\n[handler.plain]\ngreeting = \"hi\"\n");
  EXPECT_EQ(c.DraftExpirySeconds("slow"), 0);
  EXPECT_EQ(c.DraftExpirySeconds("fast"), 7200);
  EXPECT_EQ(c.DraftExpirySeconds("plain"), 24 * 3600);
  EXPECT_EQ(c.DraftExpirySeconds("unconfigured"), 24 * 3600);
}

// The reply ledger's claim owner: [store] host_id (default: the machine's hostname) and a
// lease covering the longest job time-out, sendmail and the echo wait.
TEST(RuntimeConfig, ClaimOwnerAndLease) {
  RuntimeConfig d = Parse("");
  EXPECT_TRUE(d.reply.host_id.empty());  // one LMDB host: no owners
  EXPECT_EQ(d.reply.claim_lease_seconds, 60 + 60 + 90 + 60);
  RuntimeConfig c = Parse(
      "[store]\nbackend = \"postgresql\"\ndsn = \"host=127.0.0.1\"\nhost_id = \"mx2\"\n"
      "[runtime]\njob_timeout_seconds = 30\n"
      "[reply]\nsendmail_timeout_seconds = 20\nreinject_confirm_seconds = 70\n"
      "[handler.slow]\njob_timeout_seconds = 600\n");
  EXPECT_EQ(c.reply.host_id, "mx2");
  EXPECT_EQ(c.reply.claim_lease_seconds, 600 + 20 + 70 + 60);
  EXPECT_NE(ErrorOf("[store]\nhost_id = \"mx 1\"\n").find("store.host_id"), std::string::npos);
}

TEST(RuntimeConfig, Full) {
  RuntimeConfig c = Parse(R"(
[handlers]
dir = "/opt/h"
[runtime]
workers = 3
max_attempts = 4
[reply]
require_dmarc = false
sendmail = ["/usr/sbin/sendmail", "-C", "/tmp/pf"]
envelope_sender = "<>"
[handler.helpdesk]
from = "help@example.com"
greeting = "Hi"
limit = 5
[[routes]]
recipient = "Help@Example.com"
handler = "helpdesk"
[[routes]]
recipient = "*@support.example.com"
handler = "helpdesk"
action = "consume"
)");
  EXPECT_EQ(c.handlers_dir, "/opt/h");
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.max_attempts, 4);
  EXPECT_FALSE(c.reply.require_dmarc);
  EXPECT_EQ(c.reply.sendmail.size(), 3u);
  EXPECT_EQ(c.reply.envelope_sender, reply::EnvelopeSenderMode::kNull);
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].pattern, "help@example.com");
  EXPECT_EQ(c.routes[1].action, RouteAction::kConsume);
  EXPECT_EQ(c.handler("helpdesk").from, "help@example.com");
  EXPECT_EQ(c.handler("helpdesk").values.at("greeting"), "Hi");
  EXPECT_EQ(c.handler("helpdesk").values.at("limit"), "5");
  EXPECT_NE(c.handler("helpdesk").config_json.find("\"greeting\""), std::string::npos);
}

TEST(RuntimeConfig, Errors) {
  struct {
    const char* text;
    const char* want;
  } cases[] = {
      {"[runtime]\nworkers = 0\n", "test.conf: runtime.workers: must be between 1 and 64"},
      {"[runtime]\nwrokers = 2\n", "test.conf: runtime.wrokers: unknown key"},
      {"[reply]\nsendmail = [\"sendmail\"]\n", "test.conf: reply.sendmail: the program must be"},
      {"[reply]\nenvelope_sender = \"bogus\"\n", "test.conf: reply.envelope_sender: must be"},
      {"[handlers]\ndir = \"relative\"\n", "test.conf: handlers.dir: must be an absolute path"},
      {"[handlers]\nspool_quota_mb = 0\n", "test.conf: handlers.spool_quota_mb: must be between"},
      {"[handlers]\nmax_routed_recipients = 0\n", "handlers.max_routed_recipients: must be"},
      {"[handlers]\nthread_messages_max = 0\n", "handlers.thread_messages_max: must be between"},
      {"[reply]\nmax_message_bytes = 10\n", "reply.max_message_bytes: must be between"},
      {"[handlers]\nworker_memory_mb = 8\n",
       "test.conf: handlers.worker_memory_mb: must be 0 (no limit) or at least 32"},
      {"[runtime]\nstop_timeout_seconds = 0\n",
       "test.conf: runtime.stop_timeout_seconds: must be between 1 and 3600"},
      {"[[routes]]\nhandler = \"h\"\n", "test.conf: routes[0].recipient: is required"},
      {"[[routes]]\nrecipient = \"help\"\nhandler = \"h\"\n", "routes[0].recipient: must contain"},
      {"[[routes]]\nrecipient = \"a@b\"\nhandler = \"Bad Name\"\n", "routes[0].handler"},
      {"[[routes]]\nrecipient = \"a@b\"\nhandler = \"h\"\naction = \"drop\"\n",
       "routes[0].action: must be \"copy\" or \"consume\""},
      {"[handler.x]\nfrom = \"not an address\"\n", "handler.x.from: must be a plain address"},
  };
  for (const auto& c : cases) {
    std::string got = ErrorOf(c.text);
    EXPECT_NE(got.find(c.want), std::string::npos) << c.text << " -> " << got;
  }
}

TEST(Router, Patterns) {
  struct {
    const char* pattern;
    const char* text;
    bool want;
  } cases[] = {
      {"help@example.com", "help@example.com", true},
      {"help@example.com", "HELP@Example.COM", true},
      {"help@example.com", "help@example.org", false},
      {"*@support.example.com", "anyone@support.example.com", true},
      {"*@support.example.com", "a@example.com", false},
      {"reply+*@example.com", "reply+T123@example.com", true},
      {"reply+*@example.com", "reply@example.com", false},
      {"*", "x@y", true},
      {"a*b*c@x", "aXXbYYc@x", true},
      {"a*b*c@x", "aXXcYYb@x", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Router::Matches(c.pattern, c.text), c.want) << c.pattern << " ~ " << c.text;
  }
}

TEST(Router, RoutesAndThreadOwner) {
  Router router({{"help@example.com", "helpdesk", RouteAction::kCopy},
                 {"*@example.com", "archive", RouteAction::kCopy},
                 {"sales@example.com", "crm", RouteAction::kConsume}});
  auto m = router.Route({"help@example.com", "sales@example.com", "x@other.org"}, "");
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].handler, "helpdesk");
  EXPECT_EQ(m[1].handler, "archive");
  EXPECT_EQ(m[2].recipient, "sales@example.com");
  EXPECT_EQ(m[2].handler, "archive");
  EXPECT_EQ(m[3].handler, "crm");
  EXPECT_EQ(m[3].action, RouteAction::kConsume);
  // owner_routing = "thread": a reply to a thread owned by a handler reaches it even without
  // a route, for whoever it is addressed to...
  Router thread({{"help@example.com", "helpdesk", RouteAction::kCopy}}, OwnerRouting::kThread);
  auto owned = thread.Route({"x@other.org"}, "helpdesk");
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(owned[0].handler, "helpdesk");
  EXPECT_EQ(owned[0].why, "thread-owner");
  // ...and only once when a route already sends it there.
  EXPECT_EQ(router.Route({"help@example.com"}, "helpdesk").size(), 2u);
  EXPECT_TRUE(router.Route({}, "helpdesk").empty());
}

// Issue 10 item 4: under "own-addresses" (the default) a thread's owner gets a message of its
// thread only when it is addressed to the owner's from address or a route pattern of its own.
TEST(Router, OwnerRoutingOnlyForOwnAddresses) {
  std::vector<RouteRule> rules = {{"help@example.com", "helpdesk", RouteAction::kCopy},
                                  {"reply+*@example.com", "bot", RouteAction::kCopy},
                                  {"*@example.com", "archive", RouteAction::kCopy}};
  std::map<std::string, std::string> from = {{"bot", "Bot@Example.com"}};
  struct {
    const char* name;
    OwnerRouting mode;
    std::vector<std::string> rcpts;
    const char* owner;
    const char* want_rcpt;  // the thread-owner job's recipient, "" = none
  } cases[] = {
      {"to a person", OwnerRouting::kOwnAddresses, {"alice@example.com"}, "bot", ""},
      {"to its from", OwnerRouting::kOwnAddresses, {"bot@example.com"}, "bot", "bot@example.com"},
      {"person and from",
       OwnerRouting::kOwnAddresses,
       {"alice@example.com", "BOT@example.com"},
       "bot",
       "BOT@example.com"},
      {"person, other domain", OwnerRouting::kOwnAddresses, {"x@other.org"}, "bot", ""},
      {"its from with a +token",
       OwnerRouting::kOwnAddresses,
       {"bot+01abc@example.com"},
       "bot",
       "bot+01abc@example.com"},
      {"a person with a +detail", OwnerRouting::kOwnAddresses, {"alice+x@example.com"}, "bot", ""},
      {"no from, not its route", OwnerRouting::kOwnAddresses, {"alice@example.com"}, "crm", ""},
      {"thread mode: anyone",
       OwnerRouting::kThread,
       {"alice@example.com"},
       "bot",
       "alice@example.com"},
      {"thread mode: first rcpt",
       OwnerRouting::kThread,
       {"x@other.org", "bot@example.com"},
       "bot",
       "x@other.org"},
  };
  for (const auto& c : cases) {
    Router router(rules, c.mode, from);
    std::string got;
    for (const auto& m : router.Route(c.rcpts, c.owner)) {
      if (m.why == "thread-owner") {
        EXPECT_EQ(m.handler, c.owner) << c.name;
        got = m.recipient;
      }
    }
    EXPECT_EQ(got, c.want_rcpt) << c.name;
  }
  // A route pattern of the owner's own makes the address its own (the rule routes it).
  Router router(rules, OwnerRouting::kOwnAddresses, from);
  EXPECT_TRUE(router.IsOwnAddress("bot", "reply+T1@example.com"));
  EXPECT_TRUE(router.IsOwnAddress("bot", "bot@EXAMPLE.com"));
  EXPECT_FALSE(router.IsOwnAddress("bot", "alice@example.com"));
  EXPECT_FALSE(router.IsOwnAddress("helpdesk", "bot@example.com"));
}

TEST(RuntimeConfig, OwnerRouting) {
  EXPECT_EQ(Parse("").owner_routing, OwnerRouting::kOwnAddresses);
  EXPECT_EQ(Parse("[handlers]\nowner_routing = \"thread\"\n").owner_routing, OwnerRouting::kThread);
  EXPECT_THROW(Parse("[handlers]\nowner_routing = \"everyone\"\n"), config::ConfigError);
  // Routes accept a reply policy (checked by lib/reply/policy.h).
  EXPECT_NO_THROW(
      Parse("[[routes]]\nrecipient = \"a@example.com\"\nhandler = \"x\"\n"
            "policy = \"vacation\"\n"));
}

}  // namespace
}  // namespace threadmill::runtime

namespace threadmill::runtime {
namespace {
TEST(RuntimeConfig, PackagedConfigParses) {
  auto config = config::Load(std::string(THREADMILL_SOURCE_DIR) + "/conf/threadmill.conf");
  RuntimeConfig c = ParseRuntimeConfig(*config);
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.reply.sender_period_seconds, 86400);
  EXPECT_EQ(c.reply.reinject_confirm_seconds, reply::ReplyConfig{}.reinject_confirm_seconds);
}
}  // namespace
}  // namespace threadmill::runtime
