// template.h - the autoreply message template: text with {placeholder} fields.
//
// DESCRIPTION
//   Placeholders are {sender}, {sender_name}, {from}, {subject} and {user}. "{{" and "}}" stand
//   for literal braces; a "{" that does not open a {name} is kept as is. An unknown {name} is a
//   configuration error, found at start-up (a typo must not reach a correspondent). For HTML
//   templates the values are HTML-escaped; the template text itself is not touched.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace threadmill::handlers::autoreply {

class Template {
 public:
  // Parses `text`; on an unknown placeholder returns std::nullopt and sets *error.
  static std::optional<Template> Parse(const std::string& text, std::string* error);

  // The text with each placeholder replaced by values[name] ("" when missing).
  std::string Render(const std::map<std::string, std::string>& values, bool html_escape) const;

  // The placeholder names this template understands.
  static const std::vector<std::string>& Names();

 private:
  struct Piece {
    bool placeholder;
    std::string text;  // literal text, or the placeholder name
  };
  std::vector<Piece> pieces_;
};

}  // namespace threadmill::handlers::autoreply
