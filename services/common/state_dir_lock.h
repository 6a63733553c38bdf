// StateDirLock: keeps two copies of a service from working from the same
// state folder.
#pragma once

#include <string>

#include "core/status.h"

namespace refx {

// An exclusive advisory lock (flock) on DIR/NAME.lock, so that two copies of
// a service never work from the same state folder. Creates DIR when
// missing. The lock is released when the object is destroyed or the
// process dies (even by SIGKILL).
//
// Thread-safety: not thread-safe.
class StateDirLock {
 public:
  StateDirLock() = default;
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

  // Creates `dir` if needed and takes the lock. IoError when the folder or
  // file cannot be made; Unavailable (naming the file) when another process
  // holds the lock.
  Status Acquire(const std::string& dir, const std::string& name);

 private:
  int fd_ = -1;
};

}  // namespace refx
