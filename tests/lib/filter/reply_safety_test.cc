#include "filter/reply_safety.h"

#include <gtest/gtest.h>

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
    EXPECT_EQ(NoReplyReason(envelope, headers, c.refs, 100), c.want) << c.name;
  }
}

}  // namespace
}  // namespace threadmill::filter
