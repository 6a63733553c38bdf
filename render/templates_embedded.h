// The templates compiled into the binary (generated from
// render/templates/*.mustache by render/embed_templates.cmake). Internal to
// render/templates.cc. Constant data; thread-safe.
#pragma once

namespace refx::render {

struct EmbeddedTemplate {
  const char* name;  // file name without ".mustache"; nullptr ends the list
  const char* text;
};

extern const EmbeddedTemplate kEmbeddedTemplates[];

}  // namespace refx::render
