#include "core/durable_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace refx {

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open the folder " + dir + ": " + std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const std::string error = synced ? "" : std::strerror(errno);
  ::close(fd);
  if (!synced) return Status::IoError("cannot sync the folder " + dir + ": " + error);
  return Status::OK();
}

Status SyncParentDir(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncDir(dir.empty() ? "." : dir);
}

Status CreateDirDurably(const std::string& path, mode_t mode) {
  namespace fs = std::filesystem;
  if (path.empty()) return Status::IoError("no folder named (empty path)");
  // The missing folders, outermost first.
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = fs::absolute(path, ec).lexically_normal(); !p.empty(); p = p.parent_path()) {
    if (p.filename().empty() && p.has_parent_path() && p != p.root_path()) continue;  // trailing slash
    if (fs::exists(p, ec)) break;
    missing.insert(missing.begin(), p);
    if (p == p.root_path()) break;
  }
  for (const fs::path& p : missing) {
    if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::IoError("cannot create the folder " + p.string() + ": " + std::strerror(errno));
    }
  }
  if (!fs::is_directory(path, ec)) return Status::IoError(path + " is not a folder");
  REFX_RETURN_IF_ERROR(SyncDir(path));
  for (const fs::path& p : missing) REFX_RETURN_IF_ERROR(SyncDir(p.parent_path().string()));
  // Every folder further up as well, at best: one made earlier by a tool
  // that did not sync (`mkdir -p` in a script) gets its entry made durable
  // too. Some file systems refuse fsync on a folder (EINVAL); nothing to do
  // about those. A handful of fsyncs, once per start.
  for (fs::path p = fs::absolute(path, ec).lexically_normal(); p.has_parent_path() && p != p.root_path();
       p = p.parent_path()) {
    (void)SyncDir(p.parent_path().string());
  }
  return Status::OK();
}

namespace {

std::string FileErrno() { return std::strerror(errno); }

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    // write(2) returns 0 only for a zero-length request; treat it as an
    // error rather than loop for ever.
    if (n <= 0) return Status::IoError("cannot write " + path + ": " + (n == 0 ? "nothing written" : FileErrno()));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status CreateFileDurably(const std::string& path, std::string_view data, mode_t mode, const std::string& what) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::InvalidArgument(path + ": already exists; refusing to replace a " + what);
    return Status::IoError("cannot create " + path + ": " + FileErrno());
  }
  Status s = WriteAll(fd, data, path);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IoError("cannot fsync " + path + ": " + FileErrno());
  if (::close(fd) != 0 && s.ok()) s = Status::IoError("cannot close " + path + ": " + FileErrno());
  if (s.ok()) s = SyncParentDir(path);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

Status ReplaceFileDurably(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + FileErrno());
  Status written = WriteAll(fd, data, tmp);
  if (written.ok() && ::fsync(fd) != 0) written = Status::IoError("cannot fsync " + tmp + ": " + FileErrno());
  ::close(fd);
  REFX_RETURN_IF_ERROR(written);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IoError("cannot rename " + tmp + ": " + FileErrno());
  // The rename itself is durable once the folder is synced.
  return SyncParentDir(path);
}

}  // namespace refx
