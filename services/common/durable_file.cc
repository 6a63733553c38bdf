#include "services/common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/durable_dir.h"

namespace refx {

namespace {

std::string Errno() { return std::strerror(errno); }

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status ReplaceFileDurably(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + Errno());
  const bool written = WriteAll(fd, data) && ::fsync(fd) == 0;
  const std::string write_error = written ? "" : Errno();
  ::close(fd);
  if (!written) return Status::IoError("cannot write " + tmp + ": " + write_error);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IoError("cannot rename " + tmp + ": " + Errno());
  // The rename itself is durable once the folder is synced.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return SyncDir(dir);
}

}  // namespace refx
