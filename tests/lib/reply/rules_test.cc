// Table-driven tests of the reply rules (RFC 3834 / RFC 5230 practice, DESIGN.md).
#include "reply/rules.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "mail/auto_response.h"
#include "mail/header.h"
#include "reply/reply_config.h"

namespace threadmill::reply {
namespace {

InboundFacts Good() {
  InboundFacts f;
  f.message_id = "abc@example.org";
  f.subject = "Hello";
  f.envelope_sender = "alice@example.org";
  f.from_address = "alice@example.org";
  f.recipient = "help@example.com";
  f.thread_id = "T1";
  f.dmarc = "pass";
  f.sender_authenticated = true;
  return f;
}

struct Case {
  const char* name;
  void (*change)(InboundFacts*, ReplyConfig*);
  const char* want;
};

TEST(ReplyRules, Table) {
  const Case cases[] = {
      {"allowed", [](InboundFacts*, ReplyConfig*) {}, ""},
      {"dmarc fail", [](InboundFacts* f, ReplyConfig*) { f->dmarc = "fail"; }, "dmarc"},
      {"dmarc none", [](InboundFacts* f, ReplyConfig*) { f->dmarc = "none"; }, "dmarc"},
      {"dmarc temperror", [](InboundFacts* f, ReplyConfig*) { f->dmarc = "temperror"; }, "dmarc"},
      {"dmarc PASS case", [](InboundFacts* f, ReplyConfig*) { f->dmarc = "PASS"; }, ""},
      {"dmarc gate off",
       [](InboundFacts* f, ReplyConfig* c) {
         f->dmarc = "fail";
         c->require_dmarc = false;
       },
       ""},
      // ARC override (RFC 8617 7.2): answered only when the site opts in.
      {"dmarc fail, arc override, not accepted",
       [](InboundFacts* f, ReplyConfig*) {
         f->dmarc = "fail";
         f->dmarc_arc_override = true;
       },
       "dmarc"},
      {"dmarc fail, arc override accepted",
       [](InboundFacts* f, ReplyConfig* c) {
         f->dmarc = "fail";
         f->dmarc_arc_override = true;
         c->accept_arc_override = true;
       },
       ""},
      {"dmarc fail, no override, accept_arc_override on",
       [](InboundFacts* f, ReplyConfig* c) {
         f->dmarc = "fail";
         c->accept_arc_override = true;
       },
       "dmarc"},
      {"no message id", [](InboundFacts* f, ReplyConfig*) { f->message_id.clear(); },
       "no-message-id"},
      {"no recipient", [](InboundFacts* f, ReplyConfig*) { f->recipient.clear(); }, "no-recipient"},
      {"null sender", [](InboundFacts* f, ReplyConfig*) { f->envelope_sender.clear(); },
       "null-sender"},
      // DMARC passed for From, but MAIL FROM (where the reply goes) was not authenticated.
      {"unauthenticated sender",
       [](InboundFacts* f, ReplyConfig*) { f->sender_authenticated = false; },
       "unauthenticated-sender"},
      {"unauthenticated sender, switched off (rigs without DNS)",
       [](InboundFacts* f, ReplyConfig* c) {
         f->sender_authenticated = false;
         c->require_authenticated_sender = false;
       },
       ""},
      {"unauthenticated sender, dmarc gate off",
       [](InboundFacts* f, ReplyConfig* c) {
         f->sender_authenticated = false;
         c->require_dmarc = false;
       },
       "unauthenticated-sender"},
      {"mailer-daemon",
       [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "MAILER-DAEMON@example.org"; },
       "system-sender"},
      {"postmaster",
       [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "Postmaster@example.org"; },
       "system-sender"},
      {"noreply", [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "noreply@x.org"; },
       "system-sender"},
      {"no-reply tagged",
       [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "no-reply+abc@x.org"; },
       "system-sender"},
      {"owner-", [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "owner-list@x.org"; },
       "system-sender"},
      {"-request", [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "list-request@x.org"; },
       "system-sender"},
      {"bounces", [](InboundFacts* f, ReplyConfig*) { f->envelope_sender = "bounces-1@x.org"; },
       "system-sender"},
      {"from header noreply",
       [](InboundFacts* f, ReplyConfig*) { f->from_address = "do-not-reply@x.org"; },
       "system-sender"},
      {"auto-replied", [](InboundFacts* f, ReplyConfig*) { f->auto_submitted = "auto-replied"; },
       "auto-submitted"},
      {"auto-generated with comment",
       [](InboundFacts* f, ReplyConfig*) { f->auto_submitted = "Auto-Generated (cron)"; },
       "auto-submitted"},
      {"auto-submitted no", [](InboundFacts* f, ReplyConfig*) { f->auto_submitted = "no"; }, ""},
      {"auto-submitted No (comment)",
       [](InboundFacts* f, ReplyConfig*) { f->auto_submitted = " No (human)"; }, ""},
      {"precedence bulk", [](InboundFacts* f, ReplyConfig*) { f->precedence = "bulk"; },
       "precedence"},
      {"precedence list", [](InboundFacts* f, ReplyConfig*) { f->precedence = "List"; },
       "precedence"},
      {"precedence junk", [](InboundFacts* f, ReplyConfig*) { f->precedence = "junk"; },
       "precedence"},
      {"precedence first-class",
       [](InboundFacts* f, ReplyConfig*) { f->precedence = "first-class"; }, ""},
      {"list headers", [](InboundFacts* f, ReplyConfig*) { f->list_headers = true; }, "list"},
      {"precedence auto_reply", [](InboundFacts* f, ReplyConfig*) { f->precedence = "auto_reply"; },
       "precedence"},
      {"auto response keyword",
       [](InboundFacts* f, ReplyConfig*) { f->auto_response = "x-autoreply"; }, "x-autoreply"},
      {"configured system sender",
       [](InboundFacts* f, ReplyConfig* c) {
         f->envelope_sender = "robot@x.org";
         c->system_senders = {"robot"};
       },
       "system-sender"},
      {"default list replaced",
       [](InboundFacts* f, ReplyConfig* c) {
         f->envelope_sender = "noreply@x.org";
         c->system_senders = {"robot"};
       },
       ""},
      {"100 references", [](InboundFacts* f, ReplyConfig*) { f->references_count = 100; }, ""},
      {"101 references", [](InboundFacts* f, ReplyConfig*) { f->references_count = 101; },
       "references"},
      {"lower limit",
       [](InboundFacts* f, ReplyConfig* c) {
         f->references_count = 6;
         c->max_references = 5;
       },
       "references"},
  };
  for (const Case& c : cases) {
    InboundFacts facts = Good();
    ReplyConfig config;
    c.change(&facts, &config);
    EXPECT_EQ(CheckReplyRules(facts, config), c.want) << c.name;
  }
}

TEST(ReplyRules, FactsFromHeaders) {
  auto split = mail::SplitMessage(
      "Message-ID: <m1@Example.ORG>\n"
      "References: <r1@x> <r2@x>\n <r3@x>\n"
      "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n"
      "From: \"Alice\" <alice@example.org>\n"
      "Auto-Submitted: auto-replied\n"
      "Precedence: bulk\n"
      "List-Unsubscribe: <mailto:x@y>\n"
      "\nbody\n");
  InboundFacts f;
  FactsFromHeaders(split.headers, &f);
  EXPECT_EQ(f.message_id, "m1@example.org");
  EXPECT_EQ(f.references, (std::vector<std::string>{"r1@x", "r2@x", "r3@x"}));
  EXPECT_EQ(f.references_count, 3u);
  EXPECT_EQ(f.subject, "Grüße");
  EXPECT_EQ(f.from_address, "alice@example.org");
  EXPECT_EQ(f.auto_submitted, "auto-replied");
  EXPECT_EQ(f.precedence, "bulk");
  EXPECT_TRUE(f.list_headers);
  EXPECT_EQ(f.auto_response, "auto-submitted");
}

TEST(ReplyRules, FactsFromHeadersAutoResponders) {
  struct {
    const char* headers;
    const char* want;
  } cases[] = {
      {"X-Autoreply: yes\nPrecedence: auto_reply\n", "precedence"},
      {"X-Autorespond: yes\n", "x-autorespond"},
      {"X-Auto-Response-Suppress: All\n", "x-auto-response-suppress"},
      {"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n", "dsn"},
      {"Subject: hi\n", ""},
  };
  for (const auto& c : cases) {
    auto split = mail::SplitMessage(std::string("Message-ID: <m@x>\n") + c.headers + "\nbody\n");
    InboundFacts f;
    FactsFromHeaders(split.headers, &f);
    EXPECT_EQ(f.auto_response, c.want) << c.headers;
    InboundFacts good = Good();
    good.auto_response = f.auto_response;
    good.precedence = f.precedence;
    EXPECT_EQ(CheckReplyRules(good, ReplyConfig{}), c.want) << c.headers;
  }
}

TEST(ReplyRules, DomainOf) {
  EXPECT_EQ(DomainOf("help@Example.COM"), "example.com");
  EXPECT_EQ(DomainOf("nobody"), "");
}

}  // namespace
}  // namespace threadmill::reply

namespace threadmill::reply {
namespace {

TEST(ReplyConfigSystemSenders, DefaultConfiguredAndRejected) {
  EXPECT_EQ(ParseReplyConfig(*config::LoadFromString("")).system_senders,
            mail::DefaultSystemSenders());
  auto mine = ParseReplyConfig(
      *config::LoadFromString("[reply]\nsystem_senders = [\"robot\", \"alerts-*\"]\n"));
  EXPECT_EQ(mine.system_senders, (std::vector<std::string>{"robot", "alerts-*"}));
  for (const char* bad : {"[\"*\"]", "[\"\"]", "[\"a*b\"]", "[\"x@y\"]"}) {
    EXPECT_THROW(ParseReplyConfig(*config::LoadFromString(
                     std::string("[reply]\nsystem_senders = ") + bad + "\n")),
                 config::ConfigError)
        << bad;
  }
}

}  // namespace
}  // namespace threadmill::reply
