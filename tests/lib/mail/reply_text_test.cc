// reply_text_test.cc - quoted history and signature removal.
#include "mail/reply_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

struct Case {
  const char* name;
  std::string in, want;
};

TEST(mail_reply_text, Table) {
  const std::vector<Case> cases = {
      {"no_quote", "Just a message.\nSecond line.", "Just a message.\nSecond line."},
      {"gmail",
       "Yes, works for me.\n\nOn Tue, Mar 5, 2024 at 10:00 AM Joe Bloggs <joe@x.org> "
       "wrote:\n> Can we meet?\n> \n> Joe\n",
       "Yes, works for me."},
      {"gmail_wrapped",
       "Sure.\n\nOn Tue, Mar 5, 2024 at 10:00 AM Joe Bloggs <\njoe@x.org> "
       "wrote:\n\n> Can we meet?\n",
       "Sure."},
      {"apple_mail", "Thanks!\n\n> On 5 Mar 2024, at 10:00, Joe <joe@x.org> wrote:\n> \n> Hi\n",
       "Thanks!"},
      {"apple_mail_unquoted_attr",
       "Thanks!\n\nOn Mar 5, 2024, at 10:00, Joe <joe@x.org> wrote:\n\n> Hi\n", "Thanks!"},
      {"outlook_original",
       "Approved.\r\n\r\n-----Original Message-----\r\nFrom: Joe\r\nSent: "
       "Tuesday\r\nTo: Ann\r\nSubject: Budget\r\n\r\nPlease approve.\r\n",
       "Approved."},
      {"outlook_header_block",
       "OK by me.\n\nFrom: Joe Bloggs <joe@x.org>\nSent: Tuesday, March "
       "5, 2024 10:00 AM\nTo: Ann <ann@x.org>\nSubject: RE: "
       "Budget\n\nPlease approve.",
       "OK by me."},
      {"outlook_rule",
       "OK.\n\n________________________________\nFrom: Joe\nSent: Tue\nTo: "
       "Ann\nSubject: x\n\nold",
       "OK."},
      {"outlook_german",
       "Passt.\n\nVon: Joe\nGesendet: Dienstag\nAn: Ann\nBetreff: "
       "Budget\n\nalt",
       "Passt."},
      {"german_attribution", "Ja.\n\nAm 05.03.2024 um 10:00 schrieb Joe <joe@x.org>:\n> Frage?",
       "Ja."},
      {"french_attribution",
       "Oui.\n\nLe mar. 5 mars 2024 \xC3\xA0 10:00, Joe <joe@x.org> a "
       "\xC3\xA9"
       "crit :\n> Question ?",
       "Oui."},
      {"spanish_attribution",
       "S\xC3\xAD.\n\nEl mar, 5 mar 2024 a las 10:00, Joe "
       "(<joe@x.org>) escribi\xC3\xB3:\n> Pregunta",
       "S\xC3\xAD."},
      {"dutch_attribution", "Ja.\n\nOp di 5 mrt 2024 om 10:00 schreef Joe <joe@x.org>:\n> Vraag",
       "Ja."},
      {"inline_answers",
       "On Tue, Joe wrote:\n> Question one?\nAnswer one.\n> Question "
       "two?\nAnswer two.",
       "Answer one.\nAnswer two."},
      {"signature", "Short reply.\n\n-- \nJoe Bloggs\nACME Corp", "Short reply."},
      {"signature_then_quote", "Reply.\n-- \nSig\n\nOn Tue, Joe wrote:\n> old", "Reply."},
      {"double_dash_short_tail", "Reply.\n--\nJoe", "Reply."},
      {"double_dash_long_tail_kept", "Intro\n--\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12",
       "Intro\n--\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12"},
      {"wrote_in_text_kept", "On Monday I wrote:\nthe plan is fine.\nSee you.",
       "On Monday I wrote:\nthe plan is fine.\nSee you."},
      {"only_quote_returns_original", "> just quoted\n> text", "> just quoted\n> text"},
      {"crlf_normalized", "a\r\nb\r\n", "a\nb"},
      {"leading_blank_lines", "\n\n  \nHello", "Hello"},
      {"blank_lines_inside_kept", "a\n\nb", "a\n\nb"},
      {"forwarded_marker", "FYI\n\n---------- Forwarded message ---------\nFrom: x", "FYI"},
      {"empty", "", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(StripQuotedReply(c.in), c.want) << c.name;
}

TEST(mail_reply_text, LongInputLinear) {
  std::string text = "Top.\n";
  for (int i = 0; i < 200000; ++i) text += "> quoted line " + std::to_string(i) + "\n";
  EXPECT_EQ(StripQuotedReply(text), "Top.");
}

}  // namespace
}  // namespace threadmill::mail
