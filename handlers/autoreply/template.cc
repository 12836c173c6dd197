// template.cc - see template.h.
#include "template.h"

#include <algorithm>

namespace threadmill::handlers::autoreply {
namespace {

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

std::string HtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& Template::Names() {
  static const std::vector<std::string> names = {"sender", "sender_name", "from", "subject",
                                                 "user"};
  return names;
}

std::optional<Template> Template::Parse(const std::string& text, std::string* error) {
  Template t;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.pieces_.push_back({false, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;  // {{ or }}
      i += 2;
      continue;
    }
    if (c == '{') {
      size_t end = i + 1;
      while (end < text.size() && IsNameChar(text[end])) ++end;
      if (end > i + 1 && end < text.size() && text[end] == '}') {
        std::string name = text.substr(i + 1, end - i - 1);
        if (std::find(Names().begin(), Names().end(), name) == Names().end()) {
          *error = "unknown placeholder {" + name +
                   "} (known: {sender} {sender_name} {from} {subject} {user}; "
                   "write {{ for a literal brace)";
          return std::nullopt;
        }
        flush();
        t.pieces_.push_back({true, std::move(name)});
        i = end + 1;
        continue;
      }
    }
    literal += c;
    ++i;
  }
  flush();
  return t;
}

std::string Template::Render(const std::map<std::string, std::string>& values,
                             bool html_escape) const {
  std::string out;
  for (const Piece& p : pieces_) {
    if (!p.placeholder) {
      out += p.text;
      continue;
    }
    auto it = values.find(p.text);
    if (it == values.end()) continue;
    out += html_escape ? HtmlEscape(it->second) : it->second;
  }
  return out;
}

}  // namespace threadmill::handlers::autoreply
