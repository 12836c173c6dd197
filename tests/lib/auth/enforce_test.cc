// enforce_test.cc - the DMARC enforcement decision.
#include "auth/enforce.h"

#include <gtest/gtest.h>

namespace threadmill::auth {
namespace {

Verdicts WithDmarc(DmarcResult r, DmarcPolicy disposition) {
  Verdicts v;
  v.dmarc_checked = true;
  v.dmarc.result = r;
  v.dmarc.from_domain = "example.org";
  v.dmarc.policy = disposition;
  v.dmarc.disposition = disposition;
  return v;
}

TEST(auth_Enforce, Table) {
  struct Case {
    DmarcResult result;
    DmarcPolicy disposition;
    bool enforce;
    DmarcPolicy want;
    const char* reply;
  } cases[] = {
      {DmarcResult::kFail, DmarcPolicy::kReject, true, DmarcPolicy::kReject,
       "550 5.7.1 rejected by DMARC policy for example.org"},
      {DmarcResult::kFail, DmarcPolicy::kQuarantine, true, DmarcPolicy::kQuarantine,
       "quarantined by DMARC policy for example.org"},
      {DmarcResult::kFail, DmarcPolicy::kNone, true, DmarcPolicy::kNone, ""},
      {DmarcResult::kFail, DmarcPolicy::kReject, false, DmarcPolicy::kNone, ""},
      {DmarcResult::kTempError, DmarcPolicy::kReject, true, DmarcPolicy::kNone, ""},
      // permerror with a disposition: several author domains, one failing (dmarc.h).
      {DmarcResult::kPermError, DmarcPolicy::kReject, true, DmarcPolicy::kReject,
       "550 5.7.1 rejected by DMARC policy for example.org (several authors)"},
      {DmarcResult::kPermError, DmarcPolicy::kQuarantine, true, DmarcPolicy::kQuarantine,
       "quarantined by DMARC policy for example.org (several authors)"},
      {DmarcResult::kPermError, DmarcPolicy::kReject, false, DmarcPolicy::kNone, ""},
      // permerror without one (a broken record): never enforced.
      {DmarcResult::kPermError, DmarcPolicy::kNone, true, DmarcPolicy::kNone, ""},
      {DmarcResult::kPass, DmarcPolicy::kReject, true, DmarcPolicy::kNone, ""},
  };
  for (const auto& c : cases) {
    EnforceDecision d = DecideDmarcEnforcement(WithDmarc(c.result, c.disposition), c.enforce);
    EXPECT_EQ(d.action, c.want) << ToString(c.result);
    EXPECT_EQ(d.Reply(), c.reply);
  }
}

TEST(auth_Enforce, NothingCheckedIsNeverEnforced) {
  EXPECT_EQ(DecideDmarcEnforcement(Verdicts{}, true).action, DmarcPolicy::kNone);
}

}  // namespace
}  // namespace threadmill::auth
