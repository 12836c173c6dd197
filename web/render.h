// render.h - fills the embedded mustache templates (assets.h) into whole pages.
//
// DESCRIPTION
//   A page is its template rendered with the view, then placed into layout.mustache as
//   {{{body}}} (the only unescaped variable: it holds already rendered, escaped HTML). Every
//   other variable goes through mustache's HTML escape (& < > " '), after the caller made
//   it DisplayText (display_text.h). Templates are parsed per render (a few KB; no state
//   shared between request threads).
#pragma once

#include <string>

#include <kainjow/mustache.hpp>

namespace threadmill::web {

using View = kainjow::mustache::data;

struct Frame {
  std::string title;
  std::string page;  // main#page data-page
  std::string user;  // "" before login: no header
  std::string role;
  std::string csrf;
  std::string flash;
  bool flash_error = false;
};

// The whole HTML document. Throws std::logic_error on a template error (a build defect).
std::string RenderPage(const std::string& template_name, const View& view, const Frame& frame);

// A list of views.
inline View List() { return View(View::type::list); }

}  // namespace threadmill::web
