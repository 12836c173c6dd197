// assets.h - the console's templates (web/templates/*.mustache) and style sheet
// (web/static/console.css), embedded into the program at build time (embed_assets.cmake).
#pragma once

#include <map>
#include <string>

namespace threadmill::web {

// File name ("drafts.mustache", "console.css") -> content.
const std::map<std::string, std::string, std::less<>>& Assets();

}  // namespace threadmill::web
