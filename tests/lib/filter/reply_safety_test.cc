#include "filter/reply_safety.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace threadmill::filter {
namespace {

TEST(ReplySafetyTest, Reasons) {
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::string>> headers;
    const char* from;
    size_t refs;
    const char* want;
  } cases[] = {
      {"plain", {{"Subject", "hi"}}, "a@example.org", 1, ""},
      {"too many references", {}, "a@example.org", 101, "references"},
      {"exactly the limit", {}, "a@example.org", 100, ""},
      {"auto-replied", {{"Auto-Submitted", "auto-replied"}}, "a@example.org", 0, "auto-submitted"},
      {"auto-generated with comment",
       {{"Auto-Submitted", "auto-generated (vacation)"}},
       "a@example.org",
       0,
       "auto-submitted"},
      {"auto-submitted no", {{"Auto-Submitted", "No"}}, "a@example.org", 0, ""},
      // Same reading as the reply rules: an empty value names no automatic mode.
      {"auto-submitted empty", {{"Auto-Submitted", ""}}, "a@example.org", 0, ""},
      {"list-id", {{"List-Id", "<dev.lists.example.org>"}}, "a@example.org", 0, "list"},
      {"list-unsubscribe", {{"List-Unsubscribe", "<mailto:u@x>"}}, "a@example.org", 0, "list"},
      {"precedence list", {{"Precedence", "list"}}, "a@example.org", 0, "precedence"},
      {"precedence bulk", {{"Precedence", "Bulk"}}, "a@example.org", 0, "precedence"},
      {"precedence junk", {{"Precedence", "junk"}}, "a@example.org", 0, "precedence"},
      {"list-post only",
       {{"List-Post", "<mailto:dev@lists.example.org>"}},
       "a@example.org",
       0,
       "list"},
      {"null sender", {}, "", 0, "null-sender"},
      {"mailer-daemon", {}, "MAILER-DAEMON@example.org", 0, "system-sender"},
      {"owner-", {}, "owner-dev@lists.example.org", 0, "system-sender"},
      {"-request", {}, "dev-request@lists.example.org", 0, "system-sender"},
      {"noreply", {}, "noreply@service.example", 0, "system-sender"},
      {"bounces+", {}, "bounces+123@mailer.example", 0, "system-sender"},
      {"normal local with noreply inside", {}, "anoreplyb@example.org", 0, ""},
      {"references win", {{"Auto-Submitted", "auto-replied"}}, "", 500, "references"},
  };
  for (const auto& c : cases) {
    MessageHeaders headers(1 << 20);
    for (const auto& [name, value] : c.headers) headers.Add(name, value);
    Envelope envelope;
    envelope.mail_from = c.from;
    EXPECT_EQ(NoReplyReason(envelope, headers, c.refs, 100, true), c.want) << c.name;
  }
}

TEST(ReplySafetyTest, UnauthenticatedSenderIsItsOwnReason) {
  MessageHeaders headers(1 << 20);
  Envelope envelope;
  envelope.mail_from = "victim@example.org";
  EXPECT_EQ(NoReplyReason(envelope, headers, 0, 100, false), "unauthenticated-sender");
  // The more specific reasons still come first.
  envelope.mail_from = "";
  EXPECT_EQ(NoReplyReason(envelope, headers, 0, 100, false), "null-sender");
}

TEST(ReplySafetyTest, SenderAuthenticated) {
  testing::TempDir dir;
  std::string path = dir.str() + "/psl.dat";
  std::ofstream(path) << "com\norg\nuk\nco.uk\n";
  auto psl = auth::PublicSuffixList::Load(path);
  ASSERT_TRUE(psl.ok());
  auto verdicts = [](auth::SpfResult spf, const char* spf_domain, auth::DmarcResult dmarc,
                     const char* from_domain) {
    auth::Verdicts v;
    v.spf_checked = true;
    v.spf.result = spf;
    v.spf.domain = spf_domain;
    v.dmarc_checked = true;
    v.dmarc.result = dmarc;
    v.dmarc.from_domain = from_domain;
    return v;
  };
  using S = auth::SpfResult;
  using D = auth::DmarcResult;
  struct Case {
    const char* name;
    const char* mail_from;
    auth::Verdicts v;
    bool want;
  } cases[] = {
      // The reflection attack: DMARC passes for the attacker's From, MAIL FROM is the victim.
      {"reflection", "victim@victim.org", verdicts(S::kFail, "victim.org", D::kPass, "evil.com"),
       false},
      {"reflection, spf none", "victim@victim.org",
       verdicts(S::kNone, "victim.org", D::kPass, "evil.com"), false},
      {"spf pass for mail from", "Bob@Example.ORG",
       verdicts(S::kPass, "example.org", D::kFail, "other.com"), true},
      {"spf pass for another domain (helo)", "bob@example.org",
       verdicts(S::kPass, "mx.example.net", D::kNone, ""), false},
      {"spf softfail, dmarc same domain", "bob@example.org",
       verdicts(S::kSoftFail, "example.org", D::kPass, "example.org"), true},
      {"dmarc org-aligned subdomain", "bounce-1@mail.example.co.uk",
       verdicts(S::kFail, "mail.example.co.uk", D::kPass, "example.co.uk"), true},
      {"dmarc public suffix is no organization", "a@other.co.uk",
       verdicts(S::kFail, "other.co.uk", D::kPass, "example.co.uk"), false},
      {"dmarc fail, same domain", "bob@example.org",
       verdicts(S::kFail, "example.org", D::kFail, "example.org"), false},
      {"dmarc temperror", "bob@example.org",
       verdicts(S::kTempError, "example.org", D::kTempError, "example.org"), false},
      {"null sender", "", verdicts(S::kPass, "mx.example.org", D::kPass, "example.org"), false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SenderAuthenticated(c.mail_from, &c.v, &*psl), c.want) << c.name;
  }
  // Without a PSL only the same domain aligns; without verdicts nothing is authenticated.
  auto sub = verdicts(S::kFail, "mail.example.com", D::kPass, "example.com");
  EXPECT_FALSE(SenderAuthenticated("x@mail.example.com", &sub, nullptr));
  auto same = verdicts(S::kFail, "example.com", D::kPass, "example.com");
  EXPECT_TRUE(SenderAuthenticated("x@example.com", &same, nullptr));
  EXPECT_FALSE(SenderAuthenticated("x@example.com", nullptr, &*psl));
}

}  // namespace
}  // namespace threadmill::filter
