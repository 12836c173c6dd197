// dkim_qp_test.cc - the dkim-quoted-printable check that keeps libopendkim's i= decoding
// from reading past a value (dkim_qp.h).
#include "auth/dkim_qp.h"

#include <gtest/gtest.h>

namespace threadmill::auth {
namespace {

TEST(auth_DkimQp, HexOctetsNeedTwoHexDigits) {
  for (const char* ok : {"", "alice@example.com", "alice=40example.com", "a=4a=4F", "=20",
                         "From:a=40b.example|Subject:hi=3B there", "a=\r\n 40b", "a= 4 0"}) {
    EXPECT_TRUE(IsDkimQuotedPrintable(ok)) << ok;
  }
  // The two that made libopendkim read past the value ("=" or "=X" at its end), and the
  // rest of what is not a hex-octet.
  for (const char* bad : {"=", "alice=", "alice=4", "alice=4 ", "a=\r\n", "a=G1", "a==41",
                          "a=4G"}) {
    EXPECT_FALSE(IsDkimQuotedPrintable(bad)) << bad;
  }
}

TEST(auth_DkimQp, OnlyTheDecodedTagsAreChecked) {
  EXPECT_EQ(BadQuotedPrintableTag("v=1; a=rsa-sha256; d=x; s=y; i=a=; b=QUJD=="), "i");
  EXPECT_EQ(BadQuotedPrintableTag("v=1; d=x; z=From:a=4"), "z");
  EXPECT_EQ(BadQuotedPrintableTag(" i = a=40x ; z=From:b=40x"), "");
  // b= and bh= are base64, where "=" is padding; unknown tags are not ours to judge.
  EXPECT_EQ(BadQuotedPrintableTag("v=1; bh=47DEQ=; b=QUJD==; x-q=="), "");
  EXPECT_EQ(BadQuotedPrintableTag("i"), "");
}

}  // namespace
}  // namespace threadmill::auth
