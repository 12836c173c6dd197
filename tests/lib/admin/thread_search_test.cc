// thread_search_test.cc - threads found by Message-ID, participant, subject; newest first.
#include "admin/thread_search.h"

#include <gtest/gtest.h>

#include "store/thread_store.h"
#include "support/temp_dir.h"

namespace threadmill::admin {
namespace {

TEST(ThreadSearchTest, ByMessageIdParticipantSubject) {
  testing::TempDir dir;
  store::EnvOptions options;
  options.path = dir.str();
  auto env = store::Environment::Open(options);
  ASSERT_TRUE(env.ok());
  store::ThreadStore threads(*env);
  store::MessageRecord a;
  a.msgid = "first@example.org";
  a.direction = store::Direction::kOutbound;
  a.time = 100;
  a.from = "sales@example.com";
  a.to = {"Carol@Customer.example"};
  a.subject = "Your quote";
  auto ra = threads.RecordMessage(a);
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  store::MessageRecord reply;
  reply.msgid = "reply@customer.example";
  reply.thread_id = ra->thread_id;
  reply.time = 200;
  reply.from = "carol@customer.example";
  reply.subject = "Re: Your quote";
  reply.parent = "first@example.org";
  ASSERT_TRUE(threads.RecordMessage(reply).ok());
  store::MessageRecord b;
  b.msgid = "other@example.org";
  b.direction = store::Direction::kOutbound;
  b.time = 300;
  b.from = "help@example.com";
  b.to = {"dave@else.example"};
  b.subject = "Ticket 42";
  auto rb = threads.RecordMessage(b);
  ASSERT_TRUE(rb.ok());

  auto by_id = SearchThreads(*env, "<reply@customer.example>");
  ASSERT_TRUE(by_id.ok());
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ((*by_id)[0].thread_id, ra->thread_id);
  auto by_bare_id = SearchThreads(*env, "reply@customer.example");
  ASSERT_TRUE(by_bare_id.ok());
  ASSERT_EQ(by_bare_id->size(), 1u);
  auto by_person = SearchThreads(*env, "CAROL@customer");
  ASSERT_TRUE(by_person.ok());
  ASSERT_EQ(by_person->size(), 1u);
  EXPECT_EQ((*by_person)[0].thread_id, ra->thread_id);
  auto by_subject = SearchThreads(*env, "ticket");
  ASSERT_TRUE(by_subject.ok());
  ASSERT_EQ(by_subject->size(), 1u);
  EXPECT_EQ((*by_subject)[0].thread_id, rb->thread_id);
  auto all = SearchThreads(*env, "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].thread_id, rb->thread_id) << "newest first";
  auto none = SearchThreads(*env, "nobody");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto one = SearchThreads(*env, "", 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

}  // namespace
}  // namespace threadmill::admin
