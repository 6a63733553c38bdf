#include "services/common/state_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/durable_dir.h"

namespace refx {

namespace {
std::string LockErrno() { return std::strerror(errno); }
}  // namespace

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status StateDirLock::Acquire(const std::string& dir, const std::string& name) {
  // Durably: a cursor synced into a folder whose own entry is lost in a
  // power cut is lost with it.
  Status made = CreateDirDurably(dir);
  if (!made.ok()) return Status::IoError("cannot create the state folder " + dir + ": " + made.message());
  const std::string path = dir + "/" + name + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + LockErrno());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Unavailable(path + " is locked: another " + name + " uses this state folder");
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return Status::OK();
}

}  // namespace refx
