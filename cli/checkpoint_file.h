// Files of trusted checkpoints: refx.v1.Checkpoint JSON lines that an
// auditor keeps OFF the broker's host (`refx audit checkpoint` prints them)
// and passes back to `refx audit verify --checkpoint FILE`, online or
// offline. Thread-safety: a pure function of the file.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "refx/v1/checkpoint.pb.h"

namespace refx::cli {

// Appends the refx.v1.Checkpoint JSON lines of file `path` (blank lines
// ignored) to *out. IoError if unreadable; InvalidArgument naming the line.
Status ReadCheckpointFile(const std::string& path, std::vector<v1::Checkpoint>* out);

// Durably replaces file `path` (creating its folder) with the one JSON
// line of `checkpoint`: where `refx audit verify` keeps the newest signed
// checkpoint it has verified, to check only the log after it next time.
// IoError naming the file on failure.
Status WriteCheckpointFile(const std::string& path, const v1::Checkpoint& checkpoint);

}  // namespace refx::cli
