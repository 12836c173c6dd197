// console_http_test.cc - the console's handlers over HTTP in process: an httplib client
// against the server on 127.0.0.1 port 0, a real store in a temp dir holding a draft, a fake
// sendmail that keeps what it is given. Login (CSRF'd form, wrong password, rate limit,
// cookie flags), pages and their security headers, edit + approve (sent, audit line, draft
// history), approve without or with a wrong token (403), a viewer (no buttons, 403), reject,
// and a job parked and retried.
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "admin/store_access.h"
#include "config/config.h"
#include "lib/store/backend_fixture.h"
#include "log/logger.h"
#include "runtime/drafts.h"
#include "runtime/job_queue.h"
#include "store/thread_store.h"
#include "support/temp_dir.h"
#include "web/accounts.h"
#include "web/console.h"

namespace threadmill::web {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value after `name="csrf" value="` in a page.
std::string Csrf(const std::string& body) {
  const std::string marker = "name=\"csrf\" value=\"";
  auto at = body.find(marker);
  return at == std::string::npos ? "" : body.substr(at + marker.size(), 64);
}

// "name=value" of a Set-Cookie header named `name`.
std::string SetCookie(const httplib::Result& r, const std::string& name,
                      std::string* whole = nullptr) {
  size_t n = r->get_header_value_count("Set-Cookie");
  for (size_t i = 0; i < n; ++i) {
    std::string c = r->get_header_value("Set-Cookie", i);
    if (c.rfind(name + "=", 0) == 0) {
      if (whole) *whole = c;
      return c.substr(0, c.find(';'));
    }
  }
  return "";
}

// Against both store backends (tests/lib/store/backend_fixture.h): with PostgreSQL the drafts
// the console lists, edits and approves, and the replied-once ledger, are in the database.
class ConsoleHttp : public store::testing::BackendFixture {
 protected:
  void SetUp() override {
    BackendFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const std::string d = tmp_.str();
    const std::string shared = pg() ? "backend = \"postgresql\"\ndsn = \"" + dsn_ + "\"\n" : "";
    std::ofstream(d + "/sendmail") << "#!/bin/sh\ncat > " << d << "/sent.eml\n";
    ASSERT_EQ(chmod((d + "/sendmail").c_str(), 0755), 0);
    // user = "": stays who runs the test (no service user needed).
    std::ofstream(d + "/c.conf") << "[milter]\nuser = \"\"\n"
                                 << "[log]\ntarget = \"file:" << d << "/mail.log\"\n"
                                 << "[store]\npath = \"" << d << "/store\"\n"
                                 << shared << "[reply]\nsendmail = [\"" << d << "/sendmail\"]\n"
                                 << "reinject_confirm_seconds = 0\n"
                                 << "[web]\nusers_file = \"" << d << "/web-users\"\n"
                                 << "login_attempts_per_minute = 3\n"
                                 << "trusted_proxies = [\"127.0.0.1\"]\n";
    config_ = config::Load(d + "/c.conf");
    log::Configure(config_->log);
    Accounts accounts;
    accounts.Set({"alice", Role::kApprover, {}, *HashPassword("alice-pw")});
    accounts.Set({"victor", Role::kViewer, {}, *HashPassword("victor-pw")});
    accounts.Set({"sam", Role::kApprover, {"sales"}, *HashPassword("sam-pw")});
    ASSERT_TRUE(accounts.Save(config_->web.users_file).ok());

    env_ = admin::OpenEnvironment(*config_, true);
    ASSERT_EQ(pg(), env_->shared_backends().drafts != nullptr) << "the backend of the config";
    runtime::DraftStore drafts(env_);
    runtime::Draft draft;
    draft.handler = "support";
    draft.facts.message_id = "question@example.org";
    draft.facts.references = {"question@example.org"};
    draft.facts.subject = "<script>alert(1)</script> \xE2\x80\xAEtxt.exe";
    draft.facts.envelope_sender = "bob@example.org";
    draft.facts.from_address = "bob@example.org";
    draft.facts.recipient = "help@example.com";
    draft.facts.thread_id = "T1";
    draft.facts.dmarc = "pass";
    draft.facts.sender_authenticated = true;
    draft.inbound_from = "Bob <bob@example.org>";
    draft.inbound_text = "Hello <b>there</b>\x1b[2J";
    draft.content = {"Model answer", "", ""};
    draft_ = *drafts.Create(draft);
    draft.facts.message_id = "second@example.org";
    // Ids order drafts by creation to the millisecond (random within one): the second one is
    // created in a later millisecond, so "newest first" has one right answer.
    auto ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    for (auto first = ms(); ms() == first;) {
    }
    second_ = *drafts.Create(draft);

    console_ = std::make_unique<Console>(config_, env_);
    console_->Install(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(10);
    c.set_read_timeout(30);
    return c;
  }
  // Logs in; returns the session cookie ("tm_session=...").
  std::string Login(const std::string& user, const std::string& password,
                    httplib::Headers extra = {}) {
    auto c = Client();
    auto page = c.Get("/login", extra);
    EXPECT_TRUE(page);
    if (!page) return "";
    std::string pre = SetCookie(page, "tm_login");
    httplib::Headers h = extra;
    h.emplace("Cookie", pre);
    auto r =
        c.Post("/login", h,
               httplib::Params{{"csrf", Csrf(page->body)}, {"user", user}, {"password", password}});
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 303) << r->body;
    EXPECT_EQ(r->get_header_value("Location"), "/drafts");
    return SetCookie(r, "tm_session");
  }
  httplib::Result Get(const std::string& cookie, const std::string& path) {
    auto c = Client();
    return c.Get(path.c_str(), httplib::Headers{{"Cookie", cookie}});
  }
  httplib::Result Post(const std::string& cookie, const std::string& path, httplib::Params params) {
    auto c = Client();
    return c.Post(path.c_str(), httplib::Headers{{"Cookie", cookie}}, params);
  }
  runtime::Draft Draft(const std::string& id) {
    runtime::DraftStore drafts(env_);
    return **drafts.Get(id);
  }

  testing::TempDir tmp_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<store::Environment> env_;
  std::string draft_, second_;
  std::unique_ptr<Console> console_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_P(ConsoleHttp, LoginFormWrongPasswordCookieFlagsAndRateLimit) {
  auto c = Client();
  auto root = c.Get("/drafts");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 303);
  EXPECT_EQ(root->get_header_value("Location"), "/login");

  auto page = c.Get("/login");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Security-Policy"),
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'");
  EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
  std::string pre = SetCookie(page, "tm_login");
  ASSERT_FALSE(pre.empty());
  std::string token = Csrf(page->body);
  ASSERT_EQ(token.size(), 64u);

  // No token: a cross-site login post.
  auto forged = c.Post("/login", httplib::Headers{{"Cookie", pre}},
                       httplib::Params{{"user", "alice"}, {"password", "alice-pw"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);

  auto wrong = c.Post("/login", httplib::Headers{{"Cookie", pre}},
                      httplib::Params{{"csrf", token}, {"user", "alice"}, {"password", "nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 200);
  EXPECT_NE(wrong->body.find("<p id=\"flash\" class=\"error\">Wrong user name or password</p>"),
            std::string::npos)
      << wrong->body;
  EXPECT_TRUE(SetCookie(wrong, "tm_session").empty());

  std::string whole;
  auto ok = c.Post("/login", httplib::Headers{{"Cookie", pre}, {"X-Forwarded-Proto", "https"}},
                   httplib::Params{{"csrf", token}, {"user", "alice"}, {"password", "alice-pw"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 303);
  SetCookie(ok, "tm_session", &whole);
  EXPECT_NE(whole.find("; HttpOnly"), std::string::npos) << whole;
  EXPECT_NE(whole.find("; SameSite=Strict"), std::string::npos) << whole;
  EXPECT_NE(whole.find("; Secure"), std::string::npos) << "behind TLS: " << whole;
  SetCookie(ok, "tm_session", &whole);
  std::string plain = Login("alice", "alice-pw");
  ASSERT_FALSE(plain.empty());

  // Per user name: three failures (from three addresses) and the fourth attempt is refused
  // before the password check, even with the right password.
  auto attempt = [&](const std::string& from, const std::string& user, const std::string& pw) {
    auto r = c.Post("/login", httplib::Headers{{"Cookie", pre}, {"X-Forwarded-For", from}},
                    httplib::Params{{"csrf", token}, {"user", user}, {"password", pw}});
    return r ? r->status : -1;
  };
  EXPECT_EQ(attempt("10.0.0.1", "victor", "guess"), 200);
  EXPECT_EQ(attempt("10.0.0.2", "victor", "guess"), 200);
  EXPECT_EQ(attempt("10.0.0.3", "victor", "guess"), 200);
  EXPECT_EQ(attempt("10.0.0.4", "victor", "victor-pw"), 429);
  // Per client address: three failures under three names, then nobody from there.
  EXPECT_EQ(attempt("10.0.1.1", "u1", "guess"), 200);
  EXPECT_EQ(attempt("10.0.1.1", "u2", "guess"), 200);
  EXPECT_EQ(attempt("10.0.1.1", "u3", "guess"), 200);
  auto limited =
      c.Post("/login", httplib::Headers{{"Cookie", pre}, {"X-Forwarded-For", "10.0.1.1"}},
             httplib::Params{{"csrf", token}, {"user", "alice"}, {"password", "alice-pw"}});
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_NE(limited->body.find("<p id=\"flash\" class=\"error\">Too many login attempts"),
            std::string::npos);
  EXPECT_EQ(attempt("10.0.2.1", "alice", "alice-pw"), 303) << "others still log in";
}

// A peer that is not a trusted proxy cannot choose its address with X-Forwarded-For (to dodge
// the per-address limit) nor claim TLS with X-Forwarded-Proto.
TEST_P(ConsoleHttp, ForwardedHeadersCountOnlyFromTrustedProxies) {
  auto untrusting = std::make_shared<config::Config>(*config_);
  untrusting->web.trusted_proxies.clear();
  Console console(untrusting, env_);
  httplib::Server server;
  console.Install(server);
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { server.listen_after_bind(); });
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto page = c.Get("/login");
  ASSERT_TRUE(page);
  const std::string pre = SetCookie(page, "tm_login");
  const std::string token = Csrf(page->body);
  auto attempt = [&](const std::string& from, const std::string& user, const std::string& pw) {
    auto r = c.Post("/login",
                    httplib::Headers{{"Cookie", pre},
                                     {"X-Forwarded-For", from},
                                     {"X-Forwarded-Proto", "https"}},
                    httplib::Params{{"csrf", token}, {"user", user}, {"password", pw}});
    return r;
  };
  auto first = attempt("10.0.9.1", "alice", "alice-pw");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 303);
  std::string whole;
  SetCookie(first, "tm_session", &whole);
  EXPECT_EQ(whole.find("; Secure"), std::string::npos) << "not from the proxy: " << whole;
  // Three failures under three names from "three addresses": all are 127.0.0.1's.
  EXPECT_EQ(attempt("10.0.9.2", "u1", "guess")->status, 200);
  EXPECT_EQ(attempt("10.0.9.3", "u2", "guess")->status, 200);
  EXPECT_EQ(attempt("10.0.9.4", "u3", "guess")->status, 200);
  EXPECT_EQ(attempt("10.0.9.5", "alice", "alice-pw")->status, 429);
  server.stop();
  serving.join();
}

TEST_P(ConsoleHttp, ApproverEditsAndApprovesWithTheTokenOnly) {
  std::string alice = Login("alice", "alice-pw");
  ASSERT_FALSE(alice.empty());
  auto list = Get(alice, "/drafts");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_NE(list->body.find("<table id=\"drafts\">"), std::string::npos);
  EXPECT_NE(list->body.find("class=\"draft-link\" href=\"/drafts/" + draft_ + "\""),
            std::string::npos);
  EXPECT_EQ(list->body.find("<script>"), std::string::npos);
  EXPECT_NE(list->body.find("&lt;script&gt;alert(1)&lt;/script&gt; [U+202E]txt.exe"),
            std::string::npos);
  EXPECT_LT(list->body.find(second_), list->body.find(draft_)) << "newest first";

  auto page = Get(alice, "/drafts/" + draft_);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  const std::string& body = page->body;
  for (const char* want : {"data-page=\"draft\"", "<section id=\"inbound\">",
                           "<form id=\"edit-form\" method=\"post\" action=\"/drafts/",
                           "<textarea id=\"draft-text\" name=\"text\"", "id=\"approve\"",
                           "id=\"reject\"", "id=\"save\"", "Bob &lt;bob@example.org&gt;",
                           "Hello &lt;b&gt;there&lt;/b&gt;\xE2\x90\x9B[2J"}) {
    EXPECT_NE(body.find(want), std::string::npos) << want;
  }
  for (const char* absent : {"sent as", "Last refusal", "draft_for_approval ()"}) {
    EXPECT_EQ(body.find(absent), std::string::npos) << "empty values show nothing: " << absent;
  }
  std::string token = Csrf(body);
  ASSERT_EQ(token.size(), 64u);

  // Without the token, or with another, nothing happens.
  auto bare = Post(alice, "/drafts/" + draft_ + "/approve", {{"note", "x"}});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 403);
  auto other = Post(alice, "/drafts/" + draft_ + "/approve", {{"csrf", std::string(64, 'a')}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  auto no_session = Post("", "/drafts/" + draft_ + "/approve", {{"csrf", token}});
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 403);
  EXPECT_EQ(Draft(draft_).state, "draft_for_approval");

  auto edit = Post(alice, "/drafts/" + draft_ + "/edit",
                   {{"csrf", token}, {"text", "Edited by a person\r\nLine two"}, {"note", "tone"}});
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->status, 303);
  EXPECT_EQ(edit->get_header_value("Location"), "/drafts/" + draft_);
  auto saved = Get(alice, "/drafts/" + draft_);
  EXPECT_NE(saved->body.find("<p id=\"flash\" class=\"\">Saved</p>"), std::string::npos);
  EXPECT_NE(saved->body.find(">Edited by a person\nLine two</textarea>"), std::string::npos);
  EXPECT_EQ(Draft(draft_).content.text, "Edited by a person\nLine two") << "CR LF from the form";
  // Saving the same text again changes nothing (no second history entry).
  auto same = Post(alice, "/drafts/" + draft_ + "/edit",
                   {{"csrf", token}, {"text", "Edited by a person\r\nLine two"}});
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 303);
  EXPECT_NE(Get(alice, "/drafts/" + draft_)->body.find(">Unchanged</p>"), std::string::npos);

  auto approve = Post(alice, "/drafts/" + draft_ + "/approve", {{"csrf", token}, {"note", "ok"}});
  ASSERT_TRUE(approve);
  EXPECT_EQ(approve->status, 303);
  runtime::Draft d = Draft(draft_);
  EXPECT_EQ(d.state, "sent") << d.last_error;
  ASSERT_FALSE(d.reply_id.empty());
  auto shown = Get(alice, "/drafts/" + draft_);
  EXPECT_NE(shown->body.find("Sent as &lt;" + d.reply_id + "&gt;"), std::string::npos)
      << shown->body;
  EXPECT_EQ(shown->body.find("id=\"approve\""), std::string::npos) << "decided: no buttons";
  std::string sent = ReadFile(tmp_.str() + "/sent.eml");
  EXPECT_NE(sent.find("Edited by a person"), std::string::npos) << sent;
  EXPECT_NE(sent.find("In-Reply-To: <question@example.org>"), std::string::npos) << sent;
  ASSERT_EQ(d.history.size(), 2u);
  EXPECT_EQ(d.history[0].action, "edited");
  EXPECT_EQ(d.history[0].by, "web:alice");
  EXPECT_EQ(d.history[0].note, "tone");
  EXPECT_EQ(d.history[1].action, "approved");
  EXPECT_EQ(d.history[1].by, "web:alice");
  EXPECT_EQ(d.decision, "edited+approved");
  std::string log = ReadFile(tmp_.str() + "/mail.log");
  EXPECT_NE(log.find("threadmill-web: action=approve draft=" + draft_ +
                     " user=alice role=approver result=sent reply=<" + d.reply_id + ">"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("threadmill-web: action=edit draft=" + draft_ +
                     " user=alice role=approver result=saved"),
            std::string::npos);
  // The handler is told (a draft-decision job).
  runtime::JobQueue queue(env_, config_->store.path + "/spool");
  auto jobs = queue.List(100);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].kind, runtime::kDraftDecisionJob);
  EXPECT_EQ((*jobs)[0].draft_id, draft_);

  // Reject the other one, with a note.
  auto reject = Post(alice, "/drafts/" + second_ + "/reject", {{"csrf", token}, {"note", "no"}});
  ASSERT_TRUE(reject);
  EXPECT_EQ(reject->status, 303);
  EXPECT_EQ(Draft(second_).state, "rejected");
  EXPECT_NE(Get(alice, "/drafts/" + second_)->body.find("<p id=\"flash\" class=\"\">Rejected</p>"),
            std::string::npos);
}

TEST_P(ConsoleHttp, ViewerSeesNoButtonsAndCannotAct) {
  std::string victor = Login("victor", "victor-pw");
  ASSERT_FALSE(victor.empty());
  auto page = Get(victor, "/drafts/" + draft_);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<section id=\"inbound\">"), std::string::npos);
  for (const char* absent : {"id=\"approve\"", "id=\"reject\"", "id=\"save\""}) {
    EXPECT_EQ(page->body.find(absent), std::string::npos) << absent;
  }
  std::string token = Csrf(page->body);  // the logout form's
  ASSERT_EQ(token.size(), 64u);
  for (const char* action : {"approve", "reject", "edit"}) {
    auto r = Post(victor, "/drafts/" + draft_ + "/" + action, {{"csrf", token}, {"text", "x"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << action;
  }
  EXPECT_EQ(Draft(draft_).state, "draft_for_approval");
  EXPECT_EQ(Draft(draft_).content.text, "Model answer");

  // An approver restricted to another handler cannot see or act on this one.
  std::string sam = Login("sam", "sam-pw");
  EXPECT_EQ(Get(sam, "/drafts/" + draft_)->status, 404);
  EXPECT_EQ(Get(sam, "/drafts")->body.find(draft_), std::string::npos);
  std::string sam_token = Csrf(Get(sam, "/drafts")->body);
  EXPECT_EQ(Post(sam, "/drafts/" + draft_ + "/approve", {{"csrf", sam_token}})->status, 403);
}

TEST_P(ConsoleHttp, JobParkedAndRetriedAndOtherPages) {
  runtime::JobQueue queue(env_, config_->store.path + "/spool");
  runtime::JobInput input;
  input.handler = "support";
  input.recipient = "help@example.com";
  input.message_id = "m1@example.org";
  input.raw_message = "Subject: hi\r\n\r\nbody\r\n";
  auto job = queue.Enqueue(input);
  ASSERT_TRUE(job.ok()) << job.error().message;
  std::string alice = Login("alice", "alice-pw");
  auto jobs = Get(alice, "/jobs");
  ASSERT_TRUE(jobs);
  EXPECT_NE(jobs->body.find("<table id=\"jobs\">"), std::string::npos);
  EXPECT_NE(jobs->body.find("<tr class=\"job\" data-id=\"" + *job + "\">"), std::string::npos);
  std::string token = Csrf(jobs->body);
  auto park =
      Post(alice, "/jobs/" + *job + "/park", {{"csrf", token}, {"back", "/jobs?state=queued"}});
  ASSERT_TRUE(park);
  EXPECT_EQ(park->status, 303);
  EXPECT_EQ(park->get_header_value("Location"), "/jobs?state=queued");
  EXPECT_EQ((*queue.Get(*job))->state, runtime::JobState::kParked);
  auto parked = Get(alice, "/jobs?state=parked");
  EXPECT_NE(parked->body.find("class=\"retry small\""), std::string::npos);
  auto retry =
      Post(alice, "/jobs/" + *job + "/retry", {{"csrf", token}, {"back", "//evil.example/"}});
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 303);
  EXPECT_EQ(retry->get_header_value("Location"), "/jobs") << "no open redirect";
  EXPECT_EQ((*queue.Get(*job))->state, runtime::JobState::kQueued);
  std::string log = ReadFile(tmp_.str() + "/mail.log");
  EXPECT_NE(log.find("threadmill-web: action=retry job=" + *job +
                     " user=alice role=approver result=queued"),
            std::string::npos)
      << log;
  std::string victor = Login("victor", "victor-pw");
  EXPECT_EQ(
      Post(victor, "/jobs/" + *job + "/park", {{"csrf", Csrf(Get(victor, "/jobs")->body)}})->status,
      403);

  for (const char* path : {"/threads", "/threads?q=example", "/stats", "/handlers/support/kv"}) {
    auto r = Get(alice, path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
  }
  const std::string stats = Get(alice, "/stats")->body;
  EXPECT_NE(stats.find("<table id=\"stats\">"), std::string::npos);
  // The store's figures from the configured backend: PostgreSQL's tables (every host's rows)
  // and this host's local spool, where the job above waits (Enqueue: the local spool); LMDB's
  // databases and map.
  if (pg()) {
    EXPECT_NE(stats.find("id=\"store-scope\""), std::string::npos) << stats;
    EXPECT_NE(stats.find("<td>store.entries.tm_draft</td><td>2</td>"), std::string::npos) << stats;
    EXPECT_NE(stats.find("<td>local_spool.jobs.queued</td><td>1</td>"), std::string::npos) << stats;
    EXPECT_EQ(stats.find("store.entries.spool"), std::string::npos) << stats;
  } else {
    EXPECT_EQ(stats.find("id=\"store-scope\""), std::string::npos) << stats;
    EXPECT_NE(stats.find("<td>store.entries.drafts</td><td>2</td>"), std::string::npos) << stats;
    EXPECT_NE(stats.find("<td>jobs.queued</td><td>1</td>"), std::string::npos) << stats;
    EXPECT_NE(stats.find("<td>store.map_bytes</td>"), std::string::npos) << stats;
  }
  // Threads searched by subject and by participant, not only by Message-ID (the search reads
  // the threads through the store's interface, whichever backend keeps them).
  store::MessageRecord rec;
  rec.msgid = "searched@example.org";
  rec.direction = store::Direction::kInbound;
  rec.time = 100;
  rec.from = "carol@customer.example";
  rec.subject = "Printer on fire";
  auto recorded = store::ThreadStore(env_).RecordMessage(rec);
  ASSERT_TRUE(recorded.ok()) << recorded.error().message;
  for (const char* q : {"printer%20ON", "carol%40customer", "", "searched%40example.org"}) {
    auto found = Get(alice, std::string("/threads?q=") + q);
    ASSERT_TRUE(found);
    EXPECT_NE(found->body.find("/threads/" + recorded->thread_id), std::string::npos) << q;
  }
  EXPECT_EQ(Get(alice, "/threads?q=nobody")->body.find("/threads/" + recorded->thread_id),
            std::string::npos);
  EXPECT_NE(Get(alice, "/handlers/support/kv")->body.find("<table id=\"kv\">"), std::string::npos);
  auto css = Client().Get("/static/console.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_EQ(css->get_header_value("Content-Type"), "text/css; charset=utf-8");

  auto logout = Post(alice, "/logout", {{"csrf", token}});
  ASSERT_TRUE(logout);
  EXPECT_EQ(logout->status, 303);
  EXPECT_EQ(Get(alice, "/drafts")->status, 303) << "the session is gone";
}

THREADMILL_BACKEND_SUITE(ConsoleHttp);

}  // namespace
}  // namespace threadmill::web
