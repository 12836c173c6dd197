// msgid_test.cc - table-driven tests for lib/mail/msgid.
#include "mail/msgid.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

struct ListCase {
  const char* name;
  std::string value;
  std::vector<std::string> want;
  std::string want_defects;  // Defects::ToString()
};

const std::vector<ListCase>& ListCases() {
  static const std::vector<ListCase> kCases = {
      {"simple", "<abc@example.com>", {"abc@example.com"}, ""},
      {"gmail", "<CAJ+7x=Yd9kQ_r-2AbC@mail.gmail.com>", {"CAJ+7x=Yd9kQ_r-2AbC@mail.gmail.com"}, ""},
      {"outlook",
       "<DB9PR01MB1234A5B6C7D8E9F0A1B2C3D4E5F6A@DB9PR01MB1234.eurprd01.PROD.OUTLOOK.COM>",
       {"DB9PR01MB1234A5B6C7D8E9F0A1B2C3D4E5F6A@db9pr01mb1234.eurprd01.prod.outlook.com"},
       ""},
      {"apple_mail",
       "<5F3A1C2B-1D2E-4F5A-9B8C-7D6E5F4A3B2C@me.com>",
       {"5F3A1C2B-1D2E-4F5A-9B8C-7D6E5F4A3B2C@me.com"},
       ""},
      {"leading_space", "   <a@b.c>  ", {"a@b.c"}, ""},
      {"domain_lowercased_local_kept", "<MiXeD@ExAmPle.ORG>", {"MiXeD@example.org"}, ""},
      {"references_folded_crlf",
       "<a1@x.org>\r\n <a2@x.org>\r\n\t<a3@x.org>",
       {"a1@x.org", "a2@x.org", "a3@x.org"},
       ""},
      {"references_folded_lf", "<a1@x.org>\n <a2@x.org>", {"a1@x.org", "a2@x.org"}, ""},
      {"no_space_between", "<a@x><b@x><c@x>", {"a@x", "b@x", "c@x"}, ""},
      {"folding_inside_id",
       "<1234.5678@\r\n mail.example.com>",
       {"1234.5678@mail.example.com"},
       ""},
      {"whitespace_inside", "< abc @ example.com >", {"abc@example.com"}, ""},
      {"comment_after", "<a@b.c> (added by listserv)", {"a@b.c"}, ""},
      {"comment_nested", "(see (nested) comment) <a@b.c>", {"a@b.c"}, ""},
      {"comment_inside", "<a(comment)@b.c>", {"a@b.c"}, ""},
      {"unterminated_comment", "<a@b.c> (oops", {"a@b.c"}, "unterminated"},
      {"quoted_local_dequoted", "<\"abc.def\"@x.org>", {"abc.def@x.org"}, ""},
      {"quoted_local_kept", "<\"abc def\"@x.org>", {"\"abc def\"@x.org"}, ""},
      {"quoted_local_with_at", "<\"a@b\"@x.org>", {"\"a@b\"@x.org"}, ""},
      {"bare_id", "abc@def.example", {"abc@def.example"}, "missing-angle-brackets"},
      {"bare_ids", "a@x b@x", {"a@x", "b@x"}, "missing-angle-brackets"},
      {"in_reply_to_your_message",
       "Your message of \"Tue, 5 Mar 2002 10:00:00 +0100\"\r\n "
       "<200203050900.AA01@host.Example.ORG>",
       {"200203050900.AA01@host.example.org"},
       "junk"},
      {"in_reply_to_mailbox_phrase", "\"Joe\" <joe-msg@x.org>", {"joe-msg@x.org"}, "junk"},
      {"in_reply_to_bare_addr_and_id",
       "joe@x.org's message of Tue <id1@x.org>",
       {"id1@x.org"},
       "junk"},
      {"in_reply_to_mailbox_and_id",
       "Message from Joe <joe@x.org> of \"Tue\" <id1@x.org>",
       {"joe@x.org", "id1@x.org"},
       "junk"},
      {"duplicate", "<a@x> <b@x> <a@x> <A@X>", {"a@x", "b@x", "A@x"}, "duplicate-id"},
      {"duplicate_case_domain", "<a@X.org> <a@x.ORG>", {"a@x.org"}, "duplicate-id"},
      {"no_at", "<abcdef>", {"abcdef"}, "missing-at"},
      {"empty_brackets", "<> <a@b>", {"a@b"}, "junk"},
      {"double_brackets", "<<a@b>>", {"a@b"}, "junk"},
      {"unterminated_bracket", "<a@b.c", {"a@b.c"}, "unterminated"},
      {"too_long", "<" + std::string(1000, 'x') + "@y> <ok@y>", {"ok@y"}, "too-long"},
      {"nul_byte", std::string("<a\0b@x>", 7), {"ab@x"}, "nul-byte"},
      {"utf8_id", "<caf\xC3\xA9@x.org>", {"caf\xC3\xA9@x.org"}, "8bit"},
      {"latin1_id", "<caf\xE9@x.org>", {"caf\xE9@x.org"}, "invalid-utf8,8bit"},
      {"empty", "", {}, ""},
      {"only_junk", "none", {}, "junk"},
      {"domain_literal", "<a@[192.168.0.1]>", {"a@[192.168.0.1]"}, ""},
      {"tab_separated", "<a@x>\t<b@x>", {"a@x", "b@x"}, ""},
      {"comma_separated", "<a@x>, <b@x>", {"a@x", "b@x"}, "junk"},
      {"stray_close", "> <a@x>", {"a@x"}, "junk"},
      {"ancient_pine",
       "<Pine.LNX.4.44.0203051000010.1234-100000@host.example.com>",
       {"Pine.LNX.4.44.0203051000010.1234-100000@host.example.com"},
       ""},
      {"mailman_list",
       "<mailman.123.1583400000.4567.list-name@lists.Example.net>",
       {"mailman.123.1583400000.4567.list-name@lists.example.net"},
       ""},
  };
  return kCases;
}

TEST(mail_msgid, ParseMsgIdListTable) {
  for (const auto& c : ListCases()) {
    MsgIdList got = ParseMsgIdList(c.value);
    EXPECT_EQ(got.ids, c.want) << c.name;
    EXPECT_EQ(got.defects.ToString(), c.want_defects) << c.name;
  }
}

struct SingleCase {
  const char* name;
  std::string value;
  std::string want;
  std::string want_defects;
};

// Issue 11: References entries are counted as listed (duplicates count); a last id cut by a
// relay does not count, though it is still looked up.
TEST(mail_msgid, ListedCount) {
  struct {
    const char* value;
    size_t listed;
    size_t ids;
  } cases[] = {
      {"", 0, 0},
      {"<a@x>", 1, 1},
      {"<a@x> <b@x> <c@x>", 3, 3},
      {"<a@x> <b@x> <a@x>", 3, 2},
      {"<a@x> <a@x> <a@x> <a@x>", 4, 1},
      {"<a@X.org> <a@x.ORG>", 2, 1},
      {"<a@x> <b@x> <c@exa", 2, 3},
      {"<a@x> <b@x> <", 2, 2},
      {"<a@x> <a@x", 1, 1},
      {"<a@x> junk <b@x> (comment)", 2, 2},
      {"<a@x> <b@x (cut comment", 1, 2},
      {"<a@x> <\"q>", 1, 2},
  };
  for (const auto& c : cases) {
    MsgIdList list = ParseMsgIdList(c.value);
    EXPECT_EQ(list.listed, c.listed) << c.value;
    EXPECT_EQ(list.ids.size(), c.ids) << c.value;
  }
}

TEST(mail_msgid, ParseMsgIdTable) {
  const std::vector<SingleCase> cases = {
      {"simple", "<x@Y.z>", "x@y.z", ""},
      {"second_is_junk", "<a@x> <b@x>", "a@x", "junk"},
      {"comment_first", "(generated) <a@x>", "a@x", ""},
      {"bare", "a@x", "a@x", "missing-angle-brackets"},
      {"none", "   ", "", ""},
      {"only_too_long", "<" + std::string(998, 'a') + "@x>", "", "too-long"},
      {"exactly_998", "<" + std::string(996, 'a') + "@x>", std::string(996, 'a') + "@x", ""},
  };
  for (const auto& c : cases) {
    MsgId got = ParseMsgId(c.value);
    EXPECT_EQ(got.id, c.want) << c.name;
    EXPECT_EQ(got.defects.ToString(), c.want_defects) << c.name;
  }
}

TEST(mail_msgid, FormatRoundTrip) {
  EXPECT_EQ(FormatMsgId("a@b.c"), "<a@b.c>");
  EXPECT_EQ(ParseMsgId(FormatMsgId("\"a b\"@x")).id, "\"a b\"@x");
}

TEST(mail_msgid, MaxIdsTruncates) {
  MsgIdList got = ParseMsgIdList("<a@x> <b@x> <c@x>", 2);
  EXPECT_EQ(got.ids, (std::vector<std::string>{"a@x", "b@x"}));
  EXPECT_TRUE(got.defects.Has(Defect::kTruncated));
}

TEST(mail_msgid, ThousandsOfReferencesAreLinear) {
  std::string refs;
  constexpr int kCount = 9000;
  for (int i = 0; i < kCount; ++i) {
    refs += "<CAF" + std::to_string(i) + ".msg@Mail.Example.com>\r\n ";
  }
  auto start = std::chrono::steady_clock::now();
  MsgIdList got = ParseMsgIdList(refs);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(got.ids.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(got.ids[4321], "CAF4321.msg@mail.example.com");
  EXPECT_TRUE(got.defects.empty());
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 200);
}

TEST(mail_msgid, HugeJunkDoesNotHang) {
  std::string junk(2 * 1024 * 1024, '(');
  MsgIdList got = ParseMsgIdList(junk + "<a@b>");
  EXPECT_TRUE(got.ids.empty());
  EXPECT_TRUE(got.defects.Has(Defect::kUnterminated));
  std::string brackets(1024 * 1024, '<');
  got = ParseMsgIdList(brackets + "a@b>");
  EXPECT_EQ(got.ids, std::vector<std::string>{"a@b"});
}

// Issue 8 item 18: normalise(normalise(x)) == normalise(x), with normalise the parse of the
// id in brackets (what every caller does with a stored id) and, for an id with an '@'
// between other characters, of the bare id too.
void ExpectStable(const std::string& value) {
  for (const std::string& n : ParseMsgIdList(value).ids) {
    ASSERT_EQ(ParseMsgId(FormatMsgId(n)).id, n) << "value: " << value;
    size_t at = n.find('@');
    if (at != std::string::npos && at > 0 && at + 1 < n.size()) {
      ASSERT_EQ(ParseMsgId(n).id, n) << "value: " << value;
    }
  }
}

TEST(mail_msgid, NormalizationIsStable) {
  for (const char* v : {"<\"a>b\"@x>", "<\"a\\>b\"@X.example>", "\"a>b\"@x", "<\"a\\\r\"@x>",
                        "<\"a\"b\"@x>\">", "<\"a\"@\"b@c\">", "<a@b\"c>", "<\"abc@x>",
                        "<\"a(b\"@x>", "<\"a b\"@x>", "<\"a.b\"@x>", "<abc>", "<x@>"}) {
    ExpectStable(v);
  }
  EXPECT_EQ(ParseMsgId("<\"a>b\"@x>").id, "\"a>b\"@x");
  EXPECT_EQ(ParseMsgId("\"a>b\"@x").id, "\"a>b\"@x");
}

// The same property over many random values built from the characters that matter.
TEST(mail_msgid, NormalizationIsStableProperty) {
  static constexpr char kAlphabet[] = "ab.@@<<>>\"\"\\() \r\n\t\x80\xC3\xA9Z;,";
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1103515245u + 12345u;
    return state >> 16;
  };
  for (int i = 0; i < 200000; ++i) {
    std::string v;
    size_t len = 1 + next() % 24;
    for (size_t k = 0; k < len; ++k) v += kAlphabet[next() % (sizeof(kAlphabet) - 1)];
    if (next() % 2) v = "<" + v + ">";
    ExpectStable(v);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace threadmill::mail
