// The page templates (render/templates/NAME.mustache), compiled into the
// binary at build time so that nothing is looked up on disk at run time,
// rendered with mustache (Debian's libkainjow-mustache-dev). The CLI's
// report and export use them today; a web console is meant to use the same.
//
// In a template {{x}} is HTML-escaped and {{{x}}} is written as it is (for
// numbers and markup the code itself built, never for text from the log);
// every template is available to every other as a partial {{> NAME}}.
//
// Pure functions over constant data; thread-safe.
#pragma once

#include <kainjow/mustache.hpp>

#include <string>
#include <vector>

#include "core/status.h"

namespace refx::render {

using Data = kainjow::mustache::data;

// The names of the compiled-in templates, sorted.
std::vector<std::string> TemplateNames();

// Sets *text to the source of template `name`. NotFound when there is no
// such template.
Status TemplateSource(const std::string& name, std::string* text);

// Renders template `name` with `data` into *out. NotFound for an unknown
// template; InvalidArgument (with mustache's message) when the template does
// not parse. *out is untouched on failure.
Status RenderTemplate(const std::string& name, const Data& data, std::string* out);

// A mustache list from `items`.
Data List(const std::vector<Data>& items);

}  // namespace refx::render
