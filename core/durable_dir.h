// Folders that survive a power loss once created. mkdir (and so
// std::filesystem::create_directories) changes the parent folder's entries,
// which are durable only after an fsync of that parent: without it a power
// loss after the first start can take away a whole new folder — the event
// log acknowledged into it, a service's cursor — although every file inside
// was synced (found by the power-loss trials, tests/faults). Thread-safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace refx {

// Creates `path` and any missing parents, then fsyncs `path` and the parent
// of every folder it created; and, at best (errors ignored), every folder
// further up, so that folders made earlier without a sync become durable too. OK when the folder exists (created
// now or before) and its entry is durable; IoError naming the folder and the
// reason otherwise (also when `path` exists but is not a folder). What was
// created before a failure stays.
// Folders it creates get `mode` (less the umask).
Status CreateDirDurably(const std::string& path, mode_t mode = 0755);

// Writes all of `data` to `fd`, going on after a short write or EINTR. OK
// once every byte is the kernel's (durable only after an fsync); IoError
// "cannot write PATH: REASON" otherwise, when part of `data` may have been
// written. `path` only names the file in the error.
Status WriteAll(int fd, std::string_view data, const std::string& path);

// Creates `path`, which must not exist, with `mode` (less the umask), writes
// `data` to it, fsyncs it and its folder: a new key file survives a power
// loss. OK once durable. InvalidArgument "PATH: already exists; refusing to
// replace a WHAT" when it exists (it is left alone); IoError naming the file
// and the step otherwise, with the new file removed again.
Status CreateFileDurably(const std::string& path, std::string_view data, mode_t mode, const std::string& what);

// Writes `data` to PATH.tmp, fsyncs it, renames it over `path` and fsyncs
// the folder: a crash or power loss leaves the old content or the new, never
// a torn one. OK once the new content is durable; IoError naming the file
// and the step otherwise (the old content is then still in place, and a
// PATH.tmp may be left, overwritten by the next call). Two calls for the
// same path at once race.
Status ReplaceFileDurably(const std::string& path, const std::string& data);

// fsyncs the folder `dir`, so that the entries created, renamed or removed in
// it survive a power loss. OK, or IoError naming the folder.
Status SyncDir(const std::string& dir);

// SyncDir of the folder that holds `path` ("." for a bare file name), after
// a file in it was created, renamed or removed.
Status SyncParentDir(const std::string& path);

}  // namespace refx
