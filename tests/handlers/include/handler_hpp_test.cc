// handler_hpp_test.cc - the C++ wrapper threadmill/handler.hpp: KV errors reach the handler
// (found / not found / store error are three different answers), exceptions never cross the C
// ABI (each becomes a status and one log line), init checks the host table; and the real
// fixture_cpp module (tests/handlers/fixtures/good_cpp.cc) behaves so when loaded with dlopen.
//
// DESCRIPTION
//   Handler classes defined here are driven through the threadmill_handler table the wrapper
//   builds for them (detail::Adapter<H>::Table, what THREADMILL_CPP_HANDLER exports), with the
//   host test double of host_double.h. This file also includes lib/common/result.h: the
//   wrapper's names must not collide with threadmill::Status / threadmill::Result.
#include "threadmill/handler.hpp"

#include <cstddef>
#include <cstdio>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../host_double.h"
#include "common/result.h"

namespace threadmill::test {
namespace {

// Both headers in one TU: lib/common's Status and the wrapper's HostStatus are distinct types.
static_assert(!std::is_same_v<threadmill::Status, threadmill::HostStatus>);

// What the probe handler does in on_inbound, chosen per test.
enum class Step {
  kKvGet,           // records the kv_get outcome of key "k"
  kKvGetUnchecked,  // reads **kv_get("k") without checking (must retry on a store error)
  kKvList,          // records the kv_list outcome
  kThrowRuntime,
  kThrowInt,
  kThrowBadAlloc,
  kThrowHandlerFail,
};

struct Probe {
  static inline Step step = Step::kKvGet;
  static inline bool throw_in_ctor = false;
  static inline bool handler_error_in_ctor = false;
  static inline std::string seen;  // what the last call observed
  static inline int destroyed = 0;

  Probe(Context& ctx, std::string_view config) {
    if (handler_error_in_ctor) throw HandlerError(THREADMILL_INVALID, "probe: bad configuration");
    if (throw_in_ctor) throw std::runtime_error("ctor boom");
    ctx.log(THREADMILL_LOG_DEBUG, "probe init " + std::string(config));
  }
  ~Probe() { ++destroyed; }

  int on_inbound(Context& ctx, const threadmill_envelope&) {
    switch (step) {
      case Step::kKvGet: {
        HostResult<std::optional<std::string>> r = ctx.kv_get("k");
        if (!r) {
          seen = "error " + std::to_string(r.code()) + " " + r.status().reason;
          return THREADMILL_RETRY;
        }
        seen = *r ? "found " + **r : "absent";
        return THREADMILL_OK;
      }
      case Step::kKvGetUnchecked:
        seen = ctx.kv_get("k")->value_or("absent");
        return THREADMILL_OK;
      case Step::kKvList: {
        auto r = ctx.kv_list("p:");
        seen = r ? "items " + std::to_string(r->size()) : "error " + r.status().describe();
        return r ? THREADMILL_OK : THREADMILL_RETRY;
      }
      case Step::kThrowRuntime:
        throw std::runtime_error("boom");
      case Step::kThrowInt:
        throw 42;
      case Step::kThrowBadAlloc:
        throw std::bad_alloc();
      case Step::kThrowHandlerFail:
        throw HandlerError(THREADMILL_FAIL, "probe: cannot ever work");
    }
    return THREADMILL_OK;
  }
  int on_heartbeat(Context&) { throw std::runtime_error("heartbeat boom"); }
};

// Without on_heartbeat: the table leaves it NULL.
struct NoHeartbeat {
  NoHeartbeat(Context&, std::string_view) {}
  int on_inbound(Context&, const threadmill_envelope&) { return THREADMILL_OK; }
};

using ProbeAdapter = detail::Adapter<Probe>;

// Every function the wrapper puts in the C table is noexcept.
static_assert(noexcept(ProbeAdapter::Init(nullptr, nullptr, nullptr, nullptr)));
static_assert(noexcept(ProbeAdapter::OnInbound(nullptr, nullptr)));
static_assert(noexcept(ProbeAdapter::OnHeartbeat(nullptr)));
static_assert(noexcept(ProbeAdapter::Fini(nullptr)));
static_assert(noexcept(ProbeAdapter::Table("probe")));

class HandlerHppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Probe::step = Step::kKvGet;
    Probe::throw_in_ctor = false;
    Probe::handler_error_in_ctor = false;
    Probe::seen.clear();
    Probe::destroyed = 0;
    table_ = ProbeAdapter::Table("probe");
  }
  void TearDown() override {
    if (host_.state) table_->fini(host_.state);
  }
  int Init() { return table_->init(&host_.ctx, &host_.api, "{\"a\":1}", &host_.state); }
  int Inbound() {
    EnvelopeData data;
    return table_->on_inbound(&host_.ctx, &data.envelope());
  }

  HostDouble host_;
  const threadmill_handler* table_ = nullptr;
};

TEST_F(HandlerHppTest, TableDescribesTheClass) {
  EXPECT_EQ(table_->struct_size, sizeof(threadmill_handler));
  EXPECT_EQ(table_->abi_major, static_cast<uint32_t>(THREADMILL_ABI_MAJOR));
  EXPECT_STREQ(table_->name, "probe");
  EXPECT_NE(table_->on_heartbeat, nullptr);
  EXPECT_EQ(detail::Adapter<NoHeartbeat>::Table("nohb")->on_heartbeat, nullptr);
}

TEST_F(HandlerHppTest, InitCreatesAndFiniDeletesTheHandler) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  EXPECT_NE(host_.state, nullptr);
  EXPECT_TRUE(host_.Logged("probe init {\"a\":1}")) << host_.AllLogs();
  table_->fini(host_.state);
  host_.state = nullptr;
  EXPECT_EQ(Probe::destroyed, 1);
}

TEST_F(HandlerHppTest, KvGetTellsFoundAbsentAndStoreErrorApart) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  struct Case {
    const char* name;
    bool present;
    int kv_status;
    int want_rc;
    std::string want_seen;
  };
  const std::vector<Case> cases = {
      {"found", true, THREADMILL_OK, THREADMILL_OK, "found v1"},
      {"absent", false, THREADMILL_OK, THREADMILL_OK, "absent"},
      {"store error", true, THREADMILL_STORE, THREADMILL_RETRY, "error 4 map full"},
      {"internal error", false, THREADMILL_INTERNAL, THREADMILL_RETRY, "error 7 map full"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    host_.kv.clear();
    if (c.present) host_.kv["k"] = "v1";
    host_.kv_status = c.kv_status;
    host_.last_error = "map full";
    EXPECT_EQ(Inbound(), c.want_rc);
    EXPECT_EQ(Probe::seen, c.want_seen);
  }
}

TEST_F(HandlerHppTest, UncheckedKvErrorRetriesInsteadOfReadingAsAbsent) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  Probe::step = Step::kKvGetUnchecked;
  EXPECT_EQ(Inbound(), THREADMILL_OK);
  EXPECT_EQ(Probe::seen, "absent");
  host_.kv_status = THREADMILL_STORE;
  host_.last_error = "map full";
  Probe::seen = "untouched";
  EXPECT_EQ(Inbound(), THREADMILL_RETRY);
  EXPECT_EQ(Probe::seen, "untouched");
  EXPECT_TRUE(
      host_.Logged("probe: internal error (unchecked host error: status 4 (map full)), "
                   "will retry"))
      << host_.AllLogs();
}

TEST_F(HandlerHppTest, KvListReportsStoreErrors) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  Probe::step = Step::kKvList;
  EXPECT_EQ(Inbound(), THREADMILL_OK);
  EXPECT_EQ(Probe::seen, "items 0");
  host_.api.kv_list = [](threadmill_ctx* c, const char*, size_t, int, const threadmill_kv_item**,
                         size_t*) {
    c->host->last_error = "cursor failed";
    return static_cast<int>(THREADMILL_STORE);
  };
  EXPECT_EQ(Inbound(), THREADMILL_RETRY);
  EXPECT_EQ(Probe::seen, "error status 4 (cursor failed)");
}

// ABI 1.1 KV calls: used when the host table has them, refused (not silently dropped) on a
// 1.0-sized table when the caller needs the cursor or the TTL.
struct KvProbe {
  static inline std::string seen;
  KvProbe(Context&, std::string_view) {}
  int on_inbound(Context& ctx, const threadmill_envelope&) {
    auto page = ctx.kv_list_after("p:", "p:1", 5);
    HostStatus ttl = ctx.kv_put_ttl("t", "v", 60);
    HostStatus no_ttl = ctx.kv_put_ttl("u", "v", 0);
    seen = (page ? "page " + std::to_string(page->size()) : "page " + page.status().describe()) +
           " ttl " + ttl.describe() + " no_ttl " + no_ttl.describe();
    return THREADMILL_OK;
  }
  int on_draft_decision(Context&, const threadmill_draft_decision& d) {
    seen = std::string("decision ") + d.decision + " " + d.draft_id;
    return THREADMILL_RETRY;
  }
};

TEST(HandlerHppAbi11, KvCursorAndTtlNeedA11HostAndDraftDecisionIsInTheTable) {
  const threadmill_handler* table = detail::Adapter<KvProbe>::Table("kvprobe");
  ASSERT_NE(table->on_draft_decision, nullptr);
  EXPECT_EQ(detail::Adapter<Probe>::Table("probe")->on_draft_decision, nullptr);
  struct Case {
    size_t struct_size;
    std::string want;
  };
  const Case cases[] = {
      {sizeof(threadmill_host_api), "page 1 ttl status 0 no_ttl status 0"},
      {offsetof(threadmill_host_api, kv_list_after),
       "page status 3 (host-without-kv-cursor) ttl status 3 (host-without-kv-ttl) no_ttl status "
       "0"},
  };
  for (const Case& c : cases) {
    HostDouble host;
    host.api.struct_size = static_cast<uint32_t>(c.struct_size);
    host.api.kv_list_after = [](threadmill_ctx*, const char*, const char* after, size_t, int,
                                const threadmill_kv_item** items, size_t* count) {
      static const threadmill_kv_item kItem = {"p:2", nullptr, 0};
      *items = &kItem;
      *count = std::string(after) == "p:1" ? 1 : 0;
      return static_cast<int>(THREADMILL_OK);
    };
    host.api.kv_put_ttl = [](threadmill_ctx* c, const char* key, const void*, size_t,
                             uint64_t ttl) {
      if (ttl == 0) c->host->kv[key] = "v";
      return static_cast<int>(ttl == 60 || ttl == 0 ? THREADMILL_OK : THREADMILL_INTERNAL);
    };
    ASSERT_EQ(table->init(&host.ctx, &host.api, "{}", &host.state), THREADMILL_OK);
    EnvelopeData data;
    EXPECT_EQ(table->on_inbound(&host.ctx, &data.envelope()), THREADMILL_OK);
    EXPECT_EQ(KvProbe::seen, c.want) << c.struct_size;
    EXPECT_EQ(host.kv.count("u"), 1u) << "ttl 0 is a plain kv_put";
    threadmill_draft_decision d{sizeof d, "D1", "rejected", "", "", "", "", "", 0};
    EXPECT_EQ(table->on_draft_decision(&host.ctx, &d), THREADMILL_RETRY);
    EXPECT_EQ(KvProbe::seen, "decision rejected D1");
    table->fini(host.state);
  }
}

TEST_F(HandlerHppTest, ExceptionsBecomeStatusesAndOneLogLine) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  struct Case {
    Step step;
    int want_rc;
    std::string want_log;
  };
  const std::vector<Case> cases = {
      {Step::kThrowRuntime, THREADMILL_RETRY, "probe: internal error (boom), will retry"},
      {Step::kThrowInt, THREADMILL_RETRY, "probe: internal error (unknown exception), will retry"},
      {Step::kThrowBadAlloc, THREADMILL_RETRY, "probe: out of memory, will retry"},
      {Step::kThrowHandlerFail, THREADMILL_FAIL, "probe: cannot ever work"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want_log);
    host_.logs.clear();
    Probe::step = c.step;
    EXPECT_EQ(Inbound(), c.want_rc);
    ASSERT_EQ(host_.logs.size(), 1u) << host_.AllLogs();
    EXPECT_EQ(host_.logs[0].level, THREADMILL_LOG_ERROR);
    EXPECT_EQ(host_.logs[0].message, c.want_log);
  }
}

TEST_F(HandlerHppTest, HeartbeatExceptionRetries) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  EXPECT_EQ(table_->on_heartbeat(&host_.ctx), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("probe: internal error (heartbeat boom), will retry"))
      << host_.AllLogs();
}

TEST_F(HandlerHppTest, ConstructorFailuresRefuseInit) {
  Probe::handler_error_in_ctor = true;
  EXPECT_EQ(Init(), THREADMILL_INVALID);
  EXPECT_EQ(host_.state, nullptr);
  EXPECT_TRUE(host_.Logged("probe: bad configuration")) << host_.AllLogs();

  Probe::handler_error_in_ctor = false;
  Probe::throw_in_ctor = true;
  EXPECT_EQ(Init(), THREADMILL_INTERNAL);
  EXPECT_EQ(host_.state, nullptr);
  EXPECT_TRUE(host_.Logged("probe: internal error (ctor boom)")) << host_.AllLogs();
}

TEST_F(HandlerHppTest, InitRefusesUnusableHostTables) {
  struct Case {
    const char* name;
    uint32_t major;
    uint32_t size;
  };
  const std::vector<Case> cases = {
      {"other major", THREADMILL_ABI_MAJOR + 1, sizeof(threadmill_host_api)},
      {"shorter than 1.0", THREADMILL_ABI_MAJOR,
       static_cast<uint32_t>(offsetof(threadmill_host_api, state))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HostDouble host;
    host.api.abi_major = c.major;
    host.api.struct_size = c.size;
    EXPECT_EQ(table_->init(&host.ctx, &host.api, "{}", &host.state), THREADMILL_INVALID);
    EXPECT_EQ(host.state, nullptr);
  }
  EXPECT_EQ(table_->init(&host_.ctx, nullptr, "{}", &host_.state), THREADMILL_INVALID);
  EXPECT_EQ(table_->init(&host_.ctx, &host_.api, "{}", nullptr), THREADMILL_INVALID);
}

TEST_F(HandlerHppTest, CallsWithoutStateOrEnvelopeFail) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  EXPECT_EQ(table_->on_inbound(&host_.ctx, nullptr), THREADMILL_FAIL);
  void* state = host_.state;
  host_.state = nullptr;
  EXPECT_EQ(Inbound(), THREADMILL_FAIL);
  host_.state = state;
}

TEST_F(HandlerHppTest, SendAndDraftReturnTheIdOrTheFailure) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  Context ctx(&host_.ctx, &host_.api);
  auto draft = ctx.draft("<m1@example.org>", "text");
  ASSERT_TRUE(draft);
  EXPECT_EQ(*draft, "draft-1");
  host_.RefuseReplies(THREADMILL_REFUSED, "dmarc");
  auto refused = ctx.draft("<m1@example.org>", "text");
  EXPECT_FALSE(refused);
  EXPECT_TRUE(refused.status().refused());
  EXPECT_EQ(refused.status().reason, "dmarc");
  EXPECT_THROW(refused.value(), BadHostResult);
  HostStatus reply = ctx.reply("<m1@example.org>", "text");
  EXPECT_EQ(reply.code, THREADMILL_REFUSED);
  EXPECT_EQ(reply.reason, "dmarc");
  auto sent = ctx.send({"a@example.org"}, "s", "t");  // the double refuses send
  EXPECT_EQ(sent.code(), THREADMILL_REFUSED);
}

// ABI 1.1 calls: refused against a 1.0 host; against a 1.1 host the options reach the C
// struct (subject, text, html, cc, attachments, headers) and the ids / thread come back.
struct Seen11 {
  static inline std::string text, subject, html, cc, file, header, message_id;
  static inline size_t struct_size = 0;
};

TEST_F(HandlerHppTest, Abi11CallsConvertOptionsAndResults) {
  ASSERT_EQ(Init(), THREADMILL_OK);
  Context ctx(&host_.ctx, &host_.api);
  MessageOptions o;
  o.subject = "Report";
  o.text = "See attached";
  o.html = "<p>See attached</p>";
  o.cc = {"cc@example.org"};
  o.attachments = {{"r.txt", "text/plain", std::string("a\0b", 3)}};
  o.headers = {{"X-Campaign", "spring"}};
  EXPECT_FALSE(ctx.has_abi_1_1());  // the double's 1.1 slots are NULL
  auto old = ctx.reply_ex("<m1@example.org>", o);
  EXPECT_EQ(old.code(), THREADMILL_INVALID);
  EXPECT_EQ(old.status().reason, "host-abi-1.0");
  EXPECT_EQ(ctx.send_ex({"a@example.org"}, o).status().reason, "host-abi-1.0");
  EXPECT_EQ(ctx.thread().status().reason, "host-abi-1.0");

  auto record = [](const threadmill_message_options* m) {
    Seen11::struct_size = m->struct_size;
    Seen11::subject = m->subject ? m->subject : "(null)";
    Seen11::text = m->text;
    Seen11::html = m->html ? m->html : "(null)";
    Seen11::cc = m->cc_count ? m->cc[0] : "";
    Seen11::file = m->attachment_count
                       ? std::string(m->attachments[0].filename) + ":" +
                             m->attachments[0].content_type + ":" +
                             std::string(static_cast<const char*>(m->attachments[0].data),
                                         m->attachments[0].size)
                       : "";
    Seen11::header =
        m->header_count ? std::string(m->headers[0].name) + "=" + m->headers[0].value : "";
  };
  static void (*rec)(const threadmill_message_options*) = +record;
  host_.api.reply_ex = [](threadmill_ctx*, const char* id, const threadmill_message_options* m,
                          char* out, size_t cap) {
    Seen11::message_id = id;
    rec(m);
    std::snprintf(out, cap, "<r1@example.com>");
    return static_cast<int>(THREADMILL_OK);
  };
  host_.api.send_ex = [](threadmill_ctx*, const char* const*, size_t,
                         const threadmill_message_options* m, char* thread, size_t tcap,
                         char* msgid, size_t mcap) {
    rec(m);
    std::snprintf(thread, tcap, "T1");
    std::snprintf(msgid, mcap, "<s1@example.com>");
    return static_cast<int>(THREADMILL_OK);
  };
  host_.api.thread = [](threadmill_ctx*, const char* id, const threadmill_thread** out) {
    static threadmill_thread_message m1{sizeof(threadmill_thread_message),
                                        THREADMILL_DIR_INBOUND,
                                        10,
                                        "<m1@example.org>",
                                        "a@example.org",
                                        "Hi",
                                        ""};
    static threadmill_thread_message m2{sizeof(threadmill_thread_message),
                                        THREADMILL_DIR_OUTBOUND,
                                        11,
                                        "<r1@example.com>",
                                        "desk@example.com",
                                        "Re: Hi",
                                        "<m1@example.org>"};
    static const threadmill_thread_message* list[] = {&m1, &m2};
    static const char* people[] = {"a@example.org", "desk@example.com"};
    static threadmill_thread t{};
    t.struct_size = sizeof t;
    t.thread_id = id ? id : "Tcurrent";
    t.subject = "Hi";
    t.owner = "probe";
    t.participants = people;
    t.participant_count = 2;
    t.messages = list;
    t.message_count = 2;
    t.message_total = 2;
    *out = &t;
    return static_cast<int>(THREADMILL_OK);
  };
  ASSERT_TRUE(ctx.has_abi_1_1());
  auto replied = ctx.reply_ex("<m1@example.org>", o);
  ASSERT_TRUE(replied) << replied.status().describe();
  EXPECT_EQ(*replied, "<r1@example.com>");
  EXPECT_EQ(Seen11::message_id, "<m1@example.org>");
  EXPECT_EQ(Seen11::struct_size, sizeof(threadmill_message_options));
  EXPECT_EQ(Seen11::subject, "Report");
  EXPECT_EQ(Seen11::text, "See attached");
  EXPECT_EQ(Seen11::html, "<p>See attached</p>");
  EXPECT_EQ(Seen11::cc, "cc@example.org");
  EXPECT_EQ(Seen11::file, std::string("r.txt:text/plain:a\0b", 20));
  EXPECT_EQ(Seen11::header, "X-Campaign=spring");
  MessageOptions plain;
  plain.text = "only text";
  ASSERT_TRUE(ctx.reply_ex("<m1@example.org>", plain));
  EXPECT_EQ(Seen11::subject, "(null)");  // empty subject: NULL, the host keeps "Re: ..."
  EXPECT_EQ(Seen11::html, "(null)");
  auto sent = ctx.send_ex({"a@example.org"}, o);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->thread_id, "T1");
  EXPECT_EQ(sent->message_id, "<s1@example.com>");
  auto thread = ctx.thread();
  ASSERT_TRUE(thread);
  EXPECT_EQ(thread->thread_id, "Tcurrent");
  EXPECT_EQ(thread->participants, (std::vector<std::string>{"a@example.org", "desk@example.com"}));
  ASSERT_EQ(thread->messages.size(), 2u);
  EXPECT_FALSE(thread->messages[0].outbound);
  EXPECT_TRUE(thread->messages[1].outbound);
  EXPECT_EQ(thread->messages[1].in_reply_to, "<m1@example.org>");
  EXPECT_EQ(ctx.thread("T9")->thread_id, "T9");
}

// The real module built with THREADMILL_CPP_HANDLER, loaded with dlopen.
class FixtureCppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = std::make_unique<Module>(THREADMILL_CPP_FIXTURE_MODULE);
    ASSERT_EQ(module_->Init(&host_, "{}"), THREADMILL_OK);
  }
  HostDouble host_;
  std::unique_ptr<Module> module_;
};

TEST_F(FixtureCppTest, CountsAndReplies) {
  EnvelopeData data;
  EXPECT_EQ(module_->OnInbound(data.envelope()), THREADMILL_OK);
  EXPECT_EQ(module_->OnInbound(data.envelope()), THREADMILL_OK);
  EXPECT_EQ(host_.kv["count"], "2");
  EXPECT_EQ(host_.replies.size(), 2u);
}

TEST_F(FixtureCppTest, StoreErrorRetriesWithoutReplying) {
  host_.kv["count"] = "5";
  host_.kv_status = THREADMILL_STORE;
  EnvelopeData data;
  EXPECT_EQ(module_->OnInbound(data.envelope()), THREADMILL_RETRY);
  EXPECT_TRUE(host_.replies.empty());
  EXPECT_EQ(host_.kv["count"], "5");
}

TEST_F(FixtureCppTest, ThrowIsContainedAtTheBoundary) {
  EnvelopeData data;
  data.subject = "please [throw]";
  EXPECT_EQ(module_->OnInbound(data.envelope()), THREADMILL_RETRY);
  EXPECT_TRUE(host_.Logged("testcpp: internal error (asked to throw), will retry"))
      << host_.AllLogs();
  EXPECT_TRUE(host_.replies.empty());
}

}  // namespace
}  // namespace threadmill::test
