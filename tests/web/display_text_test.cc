// display_text_test.cc - hostile text is shown as text: HTML escaped by the templates (quotes
// too), control and bidi characters made visible, invalid UTF-8 replaced.
#include "web/display_text.h"

#include <gtest/gtest.h>

#include "web/render.h"

namespace threadmill::web {
namespace {

TEST(DisplayTextTest, MakesControlsVisible) {
  struct Case {
    std::string in;
    bool multiline;
    std::string want;
  } cases[] = {
      {"plain", false, "plain"},
      {"caf\xC3\xA9", false, "caf\xC3\xA9"},
      {"\x1b[31mred\x1b[0m", false, "\xE2\x90\x9B[31mred\xE2\x90\x9B[0m"},  // ␛
      {"bell\x07", false, "bell\xE2\x90\x87"},
      {"nul\0x", false, std::string("nul\xE2\x90\x80x")},
      {"a\r\nb\nc", true, "a\nb\nc"},
      {"a\r\nb", false,
       "a\xE2\x90\xA4"
       "b"},
      {"tab\there", false, "tab\there"},
      {"invoice\xE2\x80\xAEgpj.exe", false, "invoice[U+202E]gpj.exe"},
      {"\xE2\x81\xA6isolate\xE2\x81\xA9", false, "[U+2066]isolate[U+2069]"},
      {"\xC2\x9B"
       "31m",
       false, "[U+009B]31m"},
      {"bad\xFF\xC0\xAFutf8", false, "bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDutf8"},
      {"\xED\xA0\x80", false, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // a surrogate
  };
  for (const auto& c : cases) {
    std::string in = c.in == "nul" ? std::string("nul\0x", 5) : c.in;
    EXPECT_EQ(DisplayText(in, c.multiline), c.want) << c.in;
  }
  EXPECT_EQ(DisplayText(std::string("nul\0x", 5)), "nul\xE2\x90\x80x");
  EXPECT_EQ(DisplayText(std::string(100, 'a'), false, 10), std::string(10, 'a') + "\xE2\x80\xA6");
  EXPECT_EQ(DisplayText(std::string(10, 'a'), false, 10), std::string(10, 'a'));
  // A made-visible control is never cut, and never pushes the text past the bound (fuzzed).
  EXPECT_EQ(DisplayText("aaaaaa\xE2\x80\xAE", false, 10), "aaaaaa\xE2\x80\xA6");
  EXPECT_EQ(DisplayText("aaaaaaaaa\x1b", false, 10), "aaaaaaaaa\xE2\x80\xA6");
}

TEST(DisplayTextTest, TemplatesEscapeEveryHostileString) {
  const std::string hostile[] = {
      "<script>alert(1)</script>",
      "\"><img src=x onerror=alert(1)>",
      "' onmouseover='alert(1)",
      "javascript:alert(1)",
      "&lt;b&gt; &amp; &#60;script&#62;",
      "\xE2\x80\xAE"
      "txt.exe",
      "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
  };
  for (const auto& h : hostile) {
    View view;
    view.set("heading", DisplayText(h));
    view.set("message", DisplayText(h, true));
    Frame frame;
    frame.title = DisplayText(h);
    frame.page = "error";
    frame.user = DisplayText(h);
    frame.role = "viewer";
    frame.csrf = "t";
    frame.flash = DisplayText(h);
    std::string page = RenderPage("error.mustache", view, frame);
    EXPECT_EQ(page.find("<script>"), std::string::npos) << page;
    EXPECT_EQ(page.find("<img"), std::string::npos) << page;
    EXPECT_EQ(page.find("' onmouseover"), std::string::npos) << page;
    EXPECT_EQ(page.find('\x1b'), std::string::npos);
    EXPECT_EQ(page.find("\xE2\x80\xAE"), std::string::npos);
    EXPECT_EQ(page.find("href=\"http://evil"), std::string::npos) << "no link made of text";
    EXPECT_EQ(page.find("href=\"javascript"), std::string::npos);
  }
  View view;
  view.set("heading", DisplayText("&amp; <b>\"q\" 'a'"));
  view.set("message", "");
  Frame frame;
  frame.page = "error";
  std::string page = RenderPage("error.mustache", view, frame);
  EXPECT_NE(page.find("&amp;amp; &lt;b&gt;&quot;q&quot; &apos;a&apos;"), std::string::npos) << page;
}

TEST(DisplayTextTest, EveryPageHasTheContractFrame) {
  View view;
  Frame frame;
  frame.page = "login";
  view.set("csrf", "tok");
  std::string page = RenderPage("login.mustache", view, frame);
  EXPECT_NE(page.find("<main id=\"page\" data-page=\"login\">"), std::string::npos);
  EXPECT_NE(page.find("name=\"viewport\""), std::string::npos);
  EXPECT_NE(page.find("<form id=\"login\" method=\"post\" action=\"/login\">"), std::string::npos);
  EXPECT_NE(page.find("name=\"csrf\" value=\"tok\""), std::string::npos);
  EXPECT_NE(page.find("id=\"login-submit\""), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("style="), std::string::npos) << "no inline style (CSP style-src 'self')";
}

}  // namespace
}  // namespace threadmill::web
