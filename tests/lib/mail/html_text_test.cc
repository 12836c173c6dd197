// html_text_test.cc - HTML reduced to text.
#include "mail/html_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace threadmill::mail {
namespace {

TEST(mail_html_text, Table) {
  struct Case {
    const char* name;
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"plain", "hello", "hello"},
      {"paragraphs", "<p>one</p><p>two</p>", "one\n\ntwo"},
      {"br", "a<br>b<br/>c", "a\nb\nc"},
      {"gmail_divs", "<div dir=\"ltr\">Hi<div><br></div><div>Thanks</div></div>", "Hi\nThanks"},
      {"script_style", "<style>.x{}</style>a<script>if (a<b) x();</script>b", "ab"},
      {"script_upper", "<SCRIPT type=x>bad</SCRIPT>ok", "ok"},
      {"comment", "a<!-- <p>hidden</p> -->b", "ab"},
      {"entities", "&lt;&gt;&amp;&quot;&#39;&#x41;&euro;&bogus;", "<>&\"'A\xE2\x82\xAC&bogus;"},
      {"nbsp_collapses", "a&nbsp;&nbsp; b", "a b"},
      {"whitespace", "  a \n\t b  ", "a b"},
      {"less_than_text", "1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
      {"unclosed_tag", "text <b", "text"},
      {"list", "<ul><li>x</li><li>y</li></ul>", "x\ny"},
      {"blockquote", "Reply<blockquote>quoted</blockquote>", "Reply\n\nquoted"},
      {"head_dropped", "<html><head><title>T</title></head><body>B</body></html>", "B"},
      {"numeric_zero", "&#0;", "\xEF\xBF\xBD"},
      {"numeric_huge", "&#99999999;", "\xEF\xBF\xBD"},
      {"utf8_kept", "<b>caf\xC3\xA9</b>", "caf\xC3\xA9"},
      {"empty", "", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(HtmlToText(c.in), c.want) << c.name;
}

TEST(mail_html_text, HugeInputLinear) {
  std::string html;
  for (int i = 0; i < 100000; ++i) html += "<div>line &amp; more</div>";
  std::string text = HtmlToText(html);
  EXPECT_EQ(text.size(), 100000u * 12 - 1);
  std::string opens(1 << 20, '<');
  EXPECT_TRUE(HtmlToText(opens) == opens);  // "<" not starting a tag is text
  std::string amps(1 << 20, '&');
  EXPECT_TRUE(HtmlToText(amps) == amps);
  std::string tags;
  for (int i = 0; i < 200000; ++i) tags += "<a ";
  EXPECT_TRUE(HtmlToText(tags).empty());
}

}  // namespace
}  // namespace threadmill::mail
