#include "client/cursor_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace refx {

namespace {

std::string Errno() { return std::strerror(errno); }

// Writes all of `data` to `fd`.
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

Status CursorFile::Load(uint64_t* seq) const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) {
    if (ec) return Status::IoError("cannot look for " + path_ + ": " + ec.message());
    *seq = 0;
    return Status::OK();
  }
  std::ifstream in(path_);
  if (!in) return Status::IoError("cannot read " + path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::Corruption(path_ + " does not hold a log position (one decimal number)");
  }
  *seq = std::stoull(text);
  return Status::OK();
}

Status CursorFile::Store(uint64_t seq) const {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + Errno());
  const bool written = WriteAll(fd, std::to_string(seq) + "\n") && ::fsync(fd) == 0;
  const std::string write_error = written ? "" : Errno();
  ::close(fd);
  if (!written) return Status::IoError("cannot write " + tmp + ": " + write_error);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return Status::IoError("cannot rename " + tmp + ": " + Errno());
  // The rename itself is durable once the folder is synced.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::IoError("cannot open " + dir + ": " + Errno());
  const bool synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!synced) return Status::IoError("cannot sync " + dir + ": " + Errno());
  return Status::OK();
}

}  // namespace refx
