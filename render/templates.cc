#include "render/templates.h"

#include <map>

#include "render/templates_embedded.h"

namespace refx::render {

namespace {

const std::map<std::string, std::string>& Sources() {
  static const auto* sources = [] {
    auto* m = new std::map<std::string, std::string>();
    for (const EmbeddedTemplate* t = kEmbeddedTemplates; t->name != nullptr; ++t) (*m)[t->name] = t->text;
    return m;
  }();
  return *sources;
}

}  // namespace

std::vector<std::string> TemplateNames() {
  std::vector<std::string> names;
  for (const auto& [name, text] : Sources()) names.push_back(name);
  return names;
}

Status TemplateSource(const std::string& name, std::string* text) {
  auto it = Sources().find(name);
  if (it == Sources().end()) return Status::NotFound("no template \"" + name + "\"");
  *text = it->second;
  return Status::OK();
}

Status RenderTemplate(const std::string& name, const Data& data, std::string* out) {
  std::string source;
  Status s = TemplateSource(name, &source);
  if (!s.ok()) return s;
  kainjow::mustache::mustache page(source);
  if (!page.is_valid()) return Status::InvalidArgument("template " + name + ": " + page.error_message());
  // The partials sit in an outer context, below the caller's data.
  Data partials = Data::type::object;
  for (const auto& [partial_name, text] : Sources()) {
    const std::string* partial_text = &text;
    partials.set(partial_name, kainjow::mustache::partial([partial_text] { return *partial_text; }));
  }
  kainjow::mustache::context<std::string> ctx(&partials);
  ctx.push(&data);
  std::string rendered = page.render(ctx);
  if (!page.is_valid()) return Status::InvalidArgument("template " + name + ": " + page.error_message());
  *out = std::move(rendered);
  return Status::OK();
}

Data List(const std::vector<Data>& items) {
  Data list = Data::type::list;
  for (const Data& item : items) list.push_back(item);
  return list;
}

}  // namespace refx::render
