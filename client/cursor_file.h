// CursorFile: a log reader's durable position in the log ("every event up
// to this seq is fully handled"), one decimal number in one file of its
// state folder (the router's, the adapter's webhook sender's). Stores are atomic: the number is written to a
// temporary file, fsynced, renamed over the old file, and the folder is
// fsynced, so a crash leaves either the old or the new value, never a torn
// one.
//
// Thread-safety: not thread-safe; one CursorFile per process (the state
// folder lock, see state_dir_lock.h, keeps a second process out).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace refx {

class CursorFile {
 public:
  // `path` is the cursor file; its folder must exist.
  explicit CursorFile(std::string path) : path_(std::move(path)) {}

  // Reads the stored seq into *seq: 0 when the file does not exist yet.
  // Corruption naming the file when it does not hold one decimal number;
  // IoError when it cannot be read.
  Status Load(uint64_t* seq) const;

  // Durably replaces the stored seq (see above). IoError naming the file
  // when any step fails; the previous value is then still in place.
  Status Store(uint64_t seq) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace refx
