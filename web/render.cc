#include "web/render.h"

#include <stdexcept>

#include "web/assets.h"

namespace threadmill::web {
namespace {

std::string Render(const std::string& name, const View& view) {
  const auto& assets = Assets();
  auto it = assets.find(name);
  if (it == assets.end()) throw std::logic_error("no template " + name);
  kainjow::mustache::mustache tmpl(it->second);
  if (!tmpl.is_valid()) throw std::logic_error(name + ": " + tmpl.error_message());
  std::string out = tmpl.render(view);
  if (!tmpl.is_valid()) throw std::logic_error(name + ": " + tmpl.error_message());
  return out;
}

}  // namespace

std::string RenderPage(const std::string& template_name, const View& view, const Frame& frame) {
  View layout;
  layout.set("title", frame.title);
  layout.set("page", frame.page);
  if (!frame.user.empty()) {
    layout.set("user", frame.user);
    layout.set("role", frame.role);
    layout.set("csrf", frame.csrf);
  }
  if (!frame.flash.empty()) {
    layout.set("flash", frame.flash);
    layout.set("flash_class", frame.flash_error ? "error" : "");
  }
  layout.set("body", Render(template_name, view));
  return Render("layout.mustache", layout);
}

}  // namespace threadmill::web
