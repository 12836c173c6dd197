// dkim_hlist_test.cc - the h= check that keeps libopendkim's header selection from writing
// past its array (dkim_hlist.h).
#include "auth/dkim_hlist.h"

#include <gtest/gtest.h>

namespace threadmill::auth {
namespace {

TEST(auth_DkimHlist, FieldNamesAsLibopendkimCountsThem) {
  EXPECT_EQ(LibraryFieldName("From: a@example.com"), "From");
  EXPECT_EQ(LibraryFieldName("DKIM-Signature  : v=1"), "DKIM-Signature");
  EXPECT_EQ(LibraryFieldName("Subject:"), "Subject");
  EXPECT_EQ(LibraryFieldName("X:Y: z"), "X");
  // Fields dkim_header refuses are not part of its header.
  for (std::string_view refused :
       {"no colon", "Bad;Name: x", "Tab\tName: x", "Ctl\x01: x", "Caf\xc3\xa9: x", "\x7f: x"})
    EXPECT_FALSE(LibraryFieldName(refused).has_value()) << refused;
}

TEST(auth_DkimHlist, OnlyEveryFieldUsedThenOneMoreNameOverruns) {
  const HeaderNames header = CountFieldNames({"DKIM-Signature", "From", "Subject"});
  struct Case {
    const char* tags;
    bool overruns;
  } cases[] = {
      {"v=1; h=from:subject:dkim-signature:to", true},
      {"v=1; h=dkim-signature:from:subject:from", true},
      {"v=1; h=from:subject:dkim-signature", false},             // every field, nothing more
      {"v=1; h=from:from:to:subject:cc:dkim-signature", false},  // oversigned, but not after
      {"v=1; h=from:subject:to:cc:reply-to:date", false},        // DKIM-Signature left unused
      {"v=1; h=from::subject::dkim-signature::", false},         // empty names are skipped
      {"v=1; h=from::subject::dkim-signature::x", true},
      {"v=1; H = From :\r\n Subject:\tDKIM-Signature\r\n :\r\n to; b=x", true},  // FWS, case
      {"v=1; h=subject; h=from:subject:dkim-signature:to", true},                // any h= tag
      {"v=1; h=from:subject:dkim-signature:to; h=subject", true},
      {"v=1; hh=from:subject:dkim-signature:to", false},
      {"v=1; h", false},
      {"", false},
  };
  for (const auto& c : cases) EXPECT_EQ(HeaderListOverruns(c.tags, header), c.overruns) << c.tags;
}

TEST(auth_DkimHlist, RepeatedFieldsNeedAsManyNames) {
  const HeaderNames header =
      CountFieldNames({"Received", "Received", "DKIM-Signature", "From"});
  EXPECT_FALSE(HeaderListOverruns("h=received:from:dkim-signature:to", header));
  EXPECT_TRUE(HeaderListOverruns("h=received:from:dkim-signature:received:to", header));
  EXPECT_TRUE(HeaderListOverruns("h=RECEIVED:received:from:dkim-signature:received", header));
}

}  // namespace
}  // namespace threadmill::auth
