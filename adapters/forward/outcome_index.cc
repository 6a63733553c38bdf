// File format, one line per outcome (references have no spaces or tabs):
//   A <TAB> REFERENCE <TAB> REFERRAL-ID <TAB> SEQ
//   R <TAB> REFERENCE <TAB> CODE-NUMBER <TAB> MESSAGE (tabs and newlines made spaces)
#include "adapters/forward/outcome_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace refx::adapters {
namespace {

std::string OneLine(std::string s);

// The line(s) of `o` appended to *text: its acceptance and/or refusal.
void AppendLines(const ForwardOutcome& o, bool accepted, std::string* text) {
  if (accepted) {
    *text += "A\t" + o.referrer_reference + "\t" + o.referral_id + "\t" + std::to_string(o.seq) + "\n";
  } else {
    *text += "R\t" + o.referrer_reference + "\t" + std::to_string(static_cast<int>(o.refusal.code())) + "\t" +
             OneLine(o.refusal.message()) + "\n";
  }
}

Status WriteAllFd(int fd, const std::string& path, const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::OK();
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

bool ParseLine(const std::string& line, ForwardOutcome* out) {
  std::vector<std::string> f;
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t tab = line.find('\t', start);
    if (tab == std::string::npos) return false;
    f.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
  f.push_back(line.substr(start));
  out->referrer_reference = f[1];
  if (f[0] == "A") {
    out->accepted = true;
    out->referral_id = f[2];
    char* end = nullptr;
    out->seq = std::strtoull(f[3].c_str(), &end, 10);
    return !f[3].empty() && *end == '\0' && !f[2].empty();
  }
  if (f[0] == "R") {
    out->accepted = false;
    int code = std::atoi(f[2].c_str());
    if (code <= 0) return false;
    out->refusal = Status(static_cast<Status::Code>(code), f[3]);
    return true;
  }
  return false;
}

}  // namespace

Status OutcomeIndex::Open(const std::string& path, std::unique_ptr<OutcomeIndex>* out,
                          uint64_t compact_after_lines) {
  std::unique_ptr<OutcomeIndex> index(new OutcomeIndex());
  index->path_ = path;
  index->compact_after_lines_ = compact_after_lines;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline: torn by a crash
      ++index->lines_;
      ForwardOutcome o;
      if (ParseLine(line, &o)) index->Apply(std::move(o));
    }
  }
  index->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (index->fd_ < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  // A torn last line is cut off so the next append starts a line of its own.
  off_t size = ::lseek(index->fd_, 0, SEEK_END);
  if (size > 0) {
    char last = '\n';
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
      if (::pread(rfd, &last, 1, size - 1) != 1) last = '\n';
      ::close(rfd);
    }
    if (last != '\n' && ::write(index->fd_, "\n", 1) != 1) return Status::IoError("cannot write " + path);
  }
  *out = std::move(index);
  return Status::OK();
}

OutcomeIndex::~OutcomeIndex() {
  if (fd_ >= 0) ::close(fd_);
}

void OutcomeIndex::Apply(ForwardOutcome outcome) {
  ForwardOutcome& slot = latest_[outcome.referrer_reference];
  if (!outcome.accepted && slot.accepted) {
    // A refused resubmission does not undo the acceptance in the log.
    slot.refusal = std::move(outcome.refusal);
    ++slot.version;
    return;
  }
  outcome.version = slot.version + 1;
  slot = std::move(outcome);
}

Status OutcomeIndex::Record(const std::vector<ForwardOutcome>& outcomes) {
  REFX_RETURN_IF_ERROR(WriteDurably(outcomes));
  Publish(outcomes);
  return Status::OK();
}

void OutcomeIndex::Publish(const std::vector<ForwardOutcome>& outcomes) {
  if (outcomes.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const ForwardOutcome& o : outcomes) Apply(o);
  changed_.notify_all();
}

Status OutcomeIndex::WriteDurably(const std::vector<ForwardOutcome>& outcomes) {
  if (outcomes.empty()) return Status::OK();
  std::string text;
  for (const ForwardOutcome& o : outcomes) AppendLines(o, o.accepted, &text);
  std::lock_guard<std::mutex> lock(write_mu_);
  REFX_RETURN_IF_ERROR(WriteAllFd(fd_, path_, text));
  if (::fdatasync(fd_) != 0) return Status::IoError("cannot fsync " + path_ + ": " + std::strerror(errno));
  lines_ += outcomes.size();
  if (lines_ > compact_after_lines_) {
    size_t references = 0;
    {
      std::lock_guard<std::mutex> index_lock(mu_);
      references = latest_.size();
    }
    if (lines_ > 2 * references) {
      // The answers just written are durable whatever becomes of this.
      Status compacted = Compact();
      (void)compacted;
    }
  }
  return Status::OK();
}

uint64_t OutcomeIndex::lines() {
  std::lock_guard<std::mutex> lock(write_mu_);
  return lines_;
}

Status OutcomeIndex::Compact() {
  // What is in latest_ now: everything durable in the file (Publish may
  // have added answers not yet written; writing them too is harmless, they
  // are the broker's answers and are appended again when written).
  std::string text;
  uint64_t lines = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [reference, o] : latest_) {
      if (o.accepted) {
        AppendLines(o, true, &text);
        ++lines;
      }
      if (!o.refusal.ok()) {
        AppendLines(o, false, &text);
        ++lines;
      }
    }
  }
  const std::string tmp = path_ + ".compact";
  // Opened for appending: after the rename this descriptor is the log's.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  Status s = WriteAllFd(fd, tmp, text);
  if (s.ok() && ::fdatasync(fd) != 0) s = Status::IoError("cannot fsync " + tmp + ": " + std::strerror(errno));
  if (s.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    s = Status::IoError("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  if (!s.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  ::close(fd_);
  fd_ = fd;
  lines_ = lines;
  return Status::OK();
}

Status OutcomeIndex::Find(const std::string& reference, ForwardOutcome* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latest_.find(reference);
  if (it == latest_.end()) return Status::NotFound("no outcome for this reference");
  *out = it->second;
  return Status::OK();
}

uint64_t OutcomeIndex::Version(const std::string& reference) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latest_.find(reference);
  return it == latest_.end() ? 0 : it->second.version;
}

Status OutcomeIndex::WaitNewer(const std::string& reference, uint64_t version,
                               std::chrono::steady_clock::time_point deadline, ForwardOutcome* out) {
  std::unique_lock<std::mutex> lock(mu_);
  auto newer = [&] {
    auto it = latest_.find(reference);
    return it != latest_.end() && it->second.version > version;
  };
  if (!changed_.wait_until(lock, deadline, newer)) return Status::Timeout("no answer from the broker yet");
  *out = latest_[reference];
  return Status::OK();
}

}  // namespace refx::adapters
