// actions_test.cc - the shared operator actions: park/retry a job; reject and edit a draft
// (history, the handler told of decisions only); unknown drafts.
#include "admin/actions.h"

#include <fstream>

#include <gtest/gtest.h>

#include "admin/store_access.h"
#include "support/temp_dir.h"

namespace threadmill::admin {
namespace {

class ActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = config::LoadFromString("[milter]\nuser = \"\"\n[store]\npath = \"" + dir_.str() +
                                     "/store\"\n");
    env_ = OpenEnvironment(*config_, true);
  }
  std::string NewDraft() {
    runtime::DraftStore drafts(env_);
    runtime::Draft d;
    d.handler = "bot";
    d.facts.message_id = "m@example.org";
    d.content = {"text", "", ""};
    auto id = drafts.Create(d);
    EXPECT_TRUE(id.ok());
    return *id;
  }

  testing::TempDir dir_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<store::Environment> env_;
};

TEST_F(ActionsTest, ParkAndRetryAJob) {
  Actions actions(*config_, env_);
  runtime::JobInput input;
  input.handler = "bot";
  input.message_id = "j@example.org";
  input.raw_message = "Subject: x\r\n\r\nbody\r\n";
  auto id = actions.queue().Enqueue(input);
  ASSERT_TRUE(id.ok());
  auto parked = actions.ParkJob(*id, "parked by test");
  ASSERT_TRUE(parked.ok());
  EXPECT_EQ(parked->state, runtime::JobState::kParked);
  EXPECT_EQ(parked->last_error, "parked by test");
  auto retried = actions.RetryJob(*id);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->state, runtime::JobState::kQueued);
  EXPECT_EQ(retried->attempts, 0u);
  EXPECT_FALSE(actions.RetryJob("nosuchjob").ok());
}

TEST_F(ActionsTest, EditThenRejectRecordsWhoAndTellsTheHandlerOnce) {
  Actions actions(*config_, env_);
  std::string id = NewDraft();
  auto edited = actions.EditDraft(id, "better text", "web:alice", "tone");
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  EXPECT_EQ(edited->content.text, "better text");
  auto rejected = actions.RejectDraft(id, "web:alice", "not needed");
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->state, "rejected");
  ASSERT_EQ(rejected->history.size(), 2u);
  EXPECT_EQ(rejected->history[1].by, "web:alice");
  EXPECT_EQ(rejected->history[1].note, "not needed");
  auto jobs = actions.queue().List(10);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u) << "an edit is not a decision";
  EXPECT_EQ((*jobs)[0].draft_id, id);
  EXPECT_FALSE(actions.RejectDraft(id, "web:alice", "").ok()) << "decided already";
}

TEST_F(ActionsTest, UnknownDraftsAreNotFound) {
  Actions actions(*config_, env_);
  auto approved = actions.ApproveDraft("Dnosuchdraft", "web:alice", "");
  ASSERT_FALSE(approved.ok());
  EXPECT_EQ(approved.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(actions.EditDraft("Dnosuchdraft", "x", "web:alice", "").ok());
}

}  // namespace
}  // namespace threadmill::admin
