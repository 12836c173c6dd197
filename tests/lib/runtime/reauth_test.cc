// The worker's re-authentication step (runtime/reauth.h) with a scripted re-authenticator:
// which jobs wait for DNS, what a new verdict changes, deferral and the end of the window.
#include "runtime/reauth.h"

#include <gtest/gtest.h>

#include <vector>

namespace threadmill::runtime {
namespace {

Job TempErrorJob() {
  Job j;
  j.id = "J1";
  j.handler = "autoreply";
  j.queue_id = "4XyZ";
  j.mail_from = "alice@example.org";
  j.dmarc = "temperror";
  j.spf = "temperror";
  j.dkim = "temperror";
  j.no_reply_reason = "unauthenticated-sender";
  j.received_time = 1000;
  return j;
}

// Answers from a script; counts calls.
class Scripted : public JobReauthenticator {
 public:
  explicit Scripted(std::vector<ReauthVerdict> answers) : answers_(std::move(answers)) {}
  ReauthVerdict Reauthenticate(const Job& job, std::string_view raw) override {
    EXPECT_EQ(raw, "raw");
    EXPECT_EQ(job.id, "J1");
    return answers_.at(std::min(calls++, answers_.size() - 1));
  }
  size_t calls = 0;

 private:
  std::vector<ReauthVerdict> answers_;
};

ReauthVerdict Verdict(const char* dmarc, const char* spf, bool sender) {
  ReauthVerdict v;
  v.dmarc = dmarc;
  v.spf = spf;
  v.dkim = "pass";
  v.sender_authenticated = sender;
  return v;
}

config::AuthConfig Auth(int64_t window) {
  config::AuthConfig a;
  a.reauth_window_seconds = window;
  a.reauth_retry_seconds = 5;
  return a;
}

TEST(Reauth, WhichJobsWaitForDns) {
  struct Case {
    const char* dmarc;
    const char* spf;
    bool sender;
    bool want;
  } cases[] = {
      {"temperror", "pass", true, true},   // DMARC could not be decided
      {"temperror", "none", false, true},  //
      {"pass", "temperror", true, false},  // DMARC passed: MAIL FROM authenticated anyway
      {"none", "temperror", false, true},  // SPF could still authenticate MAIL FROM
      {"none", "temperror", true, false},  //
      {"fail", "fail", false, false},      // a real verdict
      {"pass", "pass", true, false},       //
      {"none", "none", false, false},      //
  };
  for (const auto& c : cases) {
    Job j;
    j.dmarc = c.dmarc;
    j.spf = c.spf;
    j.sender_authenticated = c.sender;
    EXPECT_EQ(NeedsReauth(j), c.want) << c.dmarc << " " << c.spf << " " << c.sender;
  }
}

TEST(Reauth, NewVerdictDecidesTheNoReplyReason) {
  struct Case {
    const char* before;
    bool sender;
    const char* want;
  } cases[] = {
      {"unauthenticated-sender", true, ""},
      {"unauthenticated-sender", false, "unauthenticated-sender"},
      {"", false, "unauthenticated-sender"},
      {"", true, ""},
      {"list", true, "list"},  // reasons of the message itself stay
      {"list", false, "list"},
  };
  for (const auto& c : cases) {
    Job j = TempErrorJob();
    j.no_reply_reason = c.before;
    ApplyReauth(Verdict("pass", "pass", c.sender), &j);
    EXPECT_EQ(j.no_reply_reason, c.want) << c.before << " " << c.sender;
    EXPECT_EQ(j.dmarc, "pass");
    EXPECT_EQ(j.sender_authenticated, c.sender);
  }
}

TEST(Reauth, DnsBackGivesTheRealVerdict) {
  Scripted s({Verdict("pass", "pass", true)});
  Job j = TempErrorJob();
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1010), ReauthStep::kProceed);
  EXPECT_EQ(s.calls, 1u);
  EXPECT_EQ(j.reauth, "done");
  EXPECT_EQ(j.dmarc, "pass");
  EXPECT_EQ(j.spf, "pass");
  EXPECT_TRUE(j.sender_authenticated);
  EXPECT_EQ(j.no_reply_reason, "");
  // Done once: a handler retry does not ask again.
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1020), ReauthStep::kProceed);
  EXPECT_EQ(s.calls, 1u);
}

TEST(Reauth, RealFailAfterDnsIsAVerdictToo) {
  Scripted s({Verdict("fail", "fail", false)});
  Job j = TempErrorJob();
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1010), ReauthStep::kProceed);
  EXPECT_EQ(j.reauth, "done");
  EXPECT_EQ(j.dmarc, "fail");
  EXPECT_EQ(j.no_reply_reason, "unauthenticated-sender");
}

TEST(Reauth, DeferredWithinTheWindowThenVerdict) {
  ReauthVerdict error;
  error.error = "psl unreadable";
  Scripted s({Verdict("temperror", "temperror", false), error, Verdict("pass", "none", true)});
  Job j = TempErrorJob();
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1005), ReauthStep::kDefer);
  EXPECT_EQ(j.reauth, "deferred");
  EXPECT_EQ(j.dmarc, "temperror");  // unchanged while waiting
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1010), ReauthStep::kDefer);
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1015), ReauthStep::kProceed);
  EXPECT_EQ(s.calls, 3u);
  EXPECT_EQ(j.reauth, "done");
  EXPECT_EQ(j.dmarc, "pass");
}

TEST(Reauth, PastTheWindowTheTempErrorStands) {
  struct Case {
    int64_t window;
    int64_t now;
    bool with_reauth;
    ReauthStep want;
  } cases[] = {
      {60, 1059, true, ReauthStep::kDefer},
      {60, 1060, true, ReauthStep::kProceed},  // the window is over
      {60, 5000, true, ReauthStep::kProceed},
      {0, 1000, true, ReauthStep::kProceed},    // no waiting configured
      {60, 1010, false, ReauthStep::kProceed},  // nobody can re-authenticate
  };
  for (const auto& c : cases) {
    Scripted s({Verdict("temperror", "temperror", false)});
    Job j = TempErrorJob();
    ReauthStep got = RunReauth(&j, "raw", c.with_reauth ? &s : nullptr, Auth(c.window), c.now);
    EXPECT_EQ(got, c.want) << c.window << " " << c.now;
    EXPECT_EQ(j.dmarc, "temperror");
    EXPECT_EQ(j.no_reply_reason, "unauthenticated-sender");
    EXPECT_EQ(j.reauth, c.want == ReauthStep::kDefer ? "deferred" : "expired");
    // A job whose window ended is not re-authenticated again.
    if (c.want == ReauthStep::kProceed) {
      size_t calls = s.calls;
      EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(c.window), c.now), ReauthStep::kProceed);
      EXPECT_EQ(s.calls, calls);
    }
  }
}

TEST(Reauth, JobsWithARealVerdictAreNotTouched) {
  Scripted s({Verdict("temperror", "temperror", false)});
  Job j = TempErrorJob();
  j.dmarc = "pass";
  j.spf = "pass";
  j.sender_authenticated = true;
  j.no_reply_reason = "";
  EXPECT_EQ(RunReauth(&j, "raw", &s, Auth(60), 1010), ReauthStep::kProceed);
  EXPECT_EQ(s.calls, 0u);
  EXPECT_EQ(j.reauth, "");
}

}  // namespace
}  // namespace threadmill::runtime
