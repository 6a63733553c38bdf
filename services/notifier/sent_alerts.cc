#include "services/notifier/sent_alerts.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/durable_dir.h"

namespace refx::notifier {

Status SentAlerts::Open(const std::string& path) {
  path_ = path;
  keys_.clear();
  exists_ = false;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return Status::IoError("cannot look for " + path + ": " + ec.message());
    return Status::OK();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // torn last line: not recorded
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (first) {
      first = false;
      const std::string digits = line.rfind("from ", 0) == 0 ? line.substr(5) : "";
      if (digits.empty() || digits.size() > 20 || digits.find_first_not_of("0123456789") != std::string::npos) {
        return Status::Corruption(path + " does not start with \"from <seq>\"");
      }
      from_seq_ = std::stoull(digits);
      continue;
    }
    if (!line.empty()) keys_.insert(line);
  }
  if (first) return Status::Corruption(path + " does not start with \"from <seq>\"");
  exists_ = true;
  return Status::OK();
}

Status SentAlerts::AppendText(const std::string& data) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot open " + path_ + ": " + std::strerror(errno));
  Status s = WriteAll(fd, data, path_);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IoError("cannot fsync " + path_ + ": " + std::strerror(errno));
  ::close(fd);
  return s;
}

Status SentAlerts::Create(uint64_t from_seq) {
  REFX_RETURN_IF_ERROR(AppendText("from " + std::to_string(from_seq) + "\n"));
  // The new file's name is durable once its folder is synced.
  REFX_RETURN_IF_ERROR(SyncParentDir(path_));
  from_seq_ = from_seq;
  exists_ = true;
  return Status::OK();
}

Status SentAlerts::Add(const std::string& key) { return AddAll({key}); }

Status SentAlerts::AddAll(const std::vector<std::string>& keys) {
  if (keys.empty()) return Status::OK();
  std::string text;
  for (const std::string& key : keys) text += key + "\n";
  REFX_RETURN_IF_ERROR(AppendText(text));
  keys_.insert(keys.begin(), keys.end());
  return Status::OK();
}

Status SentAlerts::Compact(const std::function<bool(const std::string& key)>& keep) {
  std::set<std::string> kept;
  std::string text = "from " + std::to_string(from_seq_) + "\n";
  for (const std::string& key : keys_) {
    if (!keep(key)) continue;
    text += key + "\n";
    kept.insert(key);
  }
  REFX_RETURN_IF_ERROR(ReplaceFileDurably(path_, text));
  keys_ = std::move(kept);
  return Status::OK();
}

}  // namespace refx::notifier
