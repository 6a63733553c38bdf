// The console's style sheet and script, compiled into the binary from
// console/assets/ (console/embed_assets.cmake). Constant data; thread-safe.
#pragma once

namespace refx::console {

extern const char kConsoleCss[];
extern const char kConsoleJs[];

}  // namespace refx::console
