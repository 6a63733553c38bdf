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

Status OutcomeIndex::Open(const std::string& path, std::unique_ptr<OutcomeIndex>* out) {
  std::unique_ptr<OutcomeIndex> index(new OutcomeIndex());
  index->path_ = path;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline: torn by a crash
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
  outcome.version = slot.version + 1;
  slot = std::move(outcome);
}

Status OutcomeIndex::Record(const std::vector<ForwardOutcome>& outcomes) {
  if (outcomes.empty()) return Status::OK();
  std::string text;
  for (const ForwardOutcome& o : outcomes) {
    if (o.accepted) {
      text += "A\t" + o.referrer_reference + "\t" + o.referral_id + "\t" + std::to_string(o.seq) + "\n";
    } else {
      text += "R\t" + o.referrer_reference + "\t" + std::to_string(static_cast<int>(o.refusal.code())) + "\t" +
              OneLine(o.refusal.message()) + "\n";
    }
  }
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::IoError("cannot write " + path_ + ": " + std::strerror(errno));
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (::fdatasync(fd_) != 0) return Status::IoError("cannot fsync " + path_ + ": " + std::strerror(errno));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const ForwardOutcome& o : outcomes) Apply(o);
  changed_.notify_all();
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
