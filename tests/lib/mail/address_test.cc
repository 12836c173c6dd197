// address_test.cc - address lists, mailboxes and envelope addresses.
#include "mail/address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

struct Case {
  const char* name;
  std::string value;
  std::vector<Mailbox> want;
  std::string defects;
};

TEST(mail_address, ParseAddressListTable) {
  const std::vector<Case> cases = {
      {"bare", "joe@Example.COM", {{"", "joe@example.com"}}, ""},
      {"angle_only", "<joe@example.com>", {{"", "joe@example.com"}}, ""},
      {"display_unquoted",
       "Joe Bloggs <Joe.Bloggs@Example.com>",
       {{"Joe Bloggs", "Joe.Bloggs@example.com"}},
       ""},
      {"display_quoted_comma", "\"Bloggs, Joe\" <joe@x.org>", {{"Bloggs, Joe", "joe@x.org"}}, ""},
      {"quoted_escapes",
       "\"Joe \\\"JB\\\" Bloggs\" <joe@x.org>",
       {{"Joe \"JB\" Bloggs", "joe@x.org"}},
       ""},
      {"gmail_encoded",
       "=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.de>",
       {{"J\xC3\xB6rg M\xC3\xBCller", "joerg@example.de"}},
       ""},
      {"outlook_encoded_in_quotes",
       "\"=?utf-8?Q?J=C3=B6rg?=\" <j@x.de>",
       {{"J\xC3\xB6rg", "j@x.de"}},
       ""},
      {"encoded_words_adjacent",
       "=?UTF-8?Q?Ren=C3=A9?= =?UTF-8?Q?_Dupont?= <r@x.fr>",
       {{"Ren\xC3\xA9 Dupont", "r@x.fr"}},
       ""},
      {"old_comment_name", "joe@x.org (Joe Bloggs)", {{"Joe Bloggs", "joe@x.org"}}, ""},
      {"list",
       "a@x.org, \"B\" <b@x.org>,C <c@X.ORG>",
       {{"", "a@x.org"}, {"B", "b@x.org"}, {"C", "c@x.org"}},
       ""},
      {"group",
       "Team: a@x.org, b@x.org;, c@x.org",
       {{"", "a@x.org"}, {"", "b@x.org"}, {"", "c@x.org"}},
       ""},
      {"empty_group", "undisclosed-recipients:;", {}, ""},
      {"null_path", "<>", {{"", ""}}, ""},
      {"obsolete_route", "Joe <@relay1.org,@relay2.org:joe@x.org>", {{"Joe", "joe@x.org"}}, ""},
      {"folded", "Joe\r\n Bloggs\r\n <joe@x.org>", {{"Joe Bloggs", "joe@x.org"}}, ""},
      {"quoted_local", "\"joe bloggs\"@x.org", {{"", "\"joe bloggs\"@x.org"}}, ""},
      {"quoted_local_dequoted", "<\"joe.bloggs\"@X.org>", {{"", "joe.bloggs@x.org"}}, ""},
      {"obs_phrase_dots", "John Q. Public <jqp@x.org>", {{"John Q. Public", "jqp@x.org"}}, ""},
      {"domain_literal", "<joe@[192.0.2.1]>", {{"", "joe@[192.0.2.1]"}}, ""},
      {"raw_utf8_name", "J\xC3\xB6rg <j@x.de>", {{"J\xC3\xB6rg", "j@x.de"}}, ""},
      {"raw_latin1_name", "J\xF6rg <j@x.de>", {{"J\xC3\xB6rg", "j@x.de"}}, "8bit"},
      {"unquoted_comma", "Doe, John <j@x.org>", {{"", "Doe"}, {"John", "j@x.org"}}, "missing-at"},
      {"empty_entries", ", ,a@x.org,,", {{"", "a@x.org"}}, ""},
      {"unterminated_angle", "Joe <joe@x.org", {{"Joe", "joe@x.org"}}, "unterminated"},
      {"trailing_junk", "<a@x.org> junk", {{"", "a@x.org"}}, "junk"},
      {"nul", std::string("a\0b@x.org", 9), {{"", "ab@x.org"}}, "nul-byte"},
      {"comment_in_addr", "joe(work)@x.org", {{"work", "joe@x.org"}}, ""},
      {"utf8_address",
       "<j\xC3\xB6rg@B\xC3\xBC"
       "cher.DE>",
       {{"",
         "j\xC3\xB6rg@b\xC3\xBc"
         "cher.de"}},
       ""},
  };
  for (const auto& c : cases) {
    AddressList got = ParseAddressList(c.value);
    ASSERT_EQ(got.mailboxes.size(), c.want.size()) << c.name;
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ(got.mailboxes[i].display_name, c.want[i].display_name) << c.name;
      EXPECT_EQ(got.mailboxes[i].address, c.want[i].address) << c.name;
    }
    EXPECT_EQ(got.defects.ToString(), c.defects) << c.name;
  }
}

TEST(mail_address, ParseMailboxFirstOnly) {
  Defects d;
  Mailbox mb = ParseMailbox("\"A\" <a@X.org>, b@x.org", &d);
  EXPECT_EQ(mb, (Mailbox{"A", "a@x.org"}));
  EXPECT_EQ(ParseMailbox("").address, "");
}

TEST(mail_address, ManyRecipientsCapped) {
  std::string v;
  for (int i = 0; i < 3000; ++i) v += "u" + std::to_string(i) + "@x.org, ";
  AddressList got = ParseAddressList(v, 1000);
  EXPECT_EQ(got.mailboxes.size(), 1000u);
  EXPECT_EQ(got.mailboxes[999].address, "u999@x.org");
  EXPECT_TRUE(got.defects.Has(Defect::kTruncated));
}

TEST(mail_address, NormalizeEnvelopeAddressTable) {
  struct E {
    std::string in, want;
  };
  const std::vector<E> cases = {
      {"<Foo@Example.COM>", "Foo@example.com"},
      {"Foo@Example.COM", "Foo@example.com"},
      {"<>", ""},
      {"", ""},
      {" <a@B> ", "a@b"},
      {"<@relay.example:User@Host.Example>", "User@host.example"},
      {"<\"john.doe\"@X.org>", "john.doe@x.org"},
      {"<\"a b\"@X.org>", "\"a b\"@x.org"},
      {"<postmaster>", "postmaster"},
      {"<\"a@b\"@X>", "\"a@b\"@x"},
  };
  for (const auto& c : cases) EXPECT_EQ(NormalizeEnvelopeAddress(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace threadmill::mail

namespace threadmill::mail {
namespace {

// ParseAuthor is what DMARC and the handler envelope both use (issue 8 item 4): for each
// From shape, the domains DMARC evaluates, whether it can pass (single) and the mailbox the
// envelope shows.
TEST(mail_address, ParseAuthorTable) {
  struct Case {
    std::vector<std::string_view> from;
    std::vector<std::string> domains;
    bool single;
    const char* mailbox;
  } cases[] = {
      {{" Alice <alice@Example.ORG>"}, {"example.org"}, true, "alice@example.org"},
      {{"<ceo@reject.example> <x@other.example>"},
       {"reject.example", "other.example"},
       false,
       "ceo@reject.example"},
      {{"<x@other.example> <ceo@reject.example>"},
       {"other.example", "reject.example"},
       false,
       "x@other.example"},
      {{"x@other.example", "ceo@reject.example"},
       {"other.example", "reject.example"},
       false,
       "x@other.example"},
      {{"a@x.example", "a@x.example"}, {"x.example"}, false, "a@x.example"},
      {{"a@x.example, b@x.example"}, {"x.example"}, false, "a@x.example"},
      {{"Doe, John <j@x.example>"}, {"x.example"}, true, "j@x.example"},
      {{"\"x@other.example\" <ceo@reject.example>"},
       {"reject.example"},
       true,
       "ceo@reject.example"},
      {{"undisclosed-recipients:;"}, {}, false, ""},
      {{}, {}, false, ""},
  };
  for (const auto& c : cases) {
    Author a = ParseAuthor(c.from);
    std::string label = c.from.empty() ? "(none)" : std::string(c.from.front());
    EXPECT_EQ(a.domains, c.domains) << label;
    EXPECT_EQ(a.single, c.single) << label;
    EXPECT_EQ(a.mailbox().address, c.mailbox) << label;
    EXPECT_EQ(a.fields, c.from.size()) << label;
  }
}

}  // namespace
}  // namespace threadmill::mail
