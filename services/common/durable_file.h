// Replacing a small file so that a crash or power loss leaves the old
// content or the new, never a torn one.
#pragma once

#include <string>

#include "core/status.h"

namespace refx {

// Writes `data` to PATH.tmp, fsyncs it, renames it over `path` and fsyncs
// the folder. OK once the new content is durable; IoError naming the file
// and the step otherwise (the old content is then still in place, and a
// PATH.tmp may be left, overwritten by the next call). Thread-compatible:
// two calls for the same path at once race.
Status ReplaceFileDurably(const std::string& path, const std::string& data);

}  // namespace refx
