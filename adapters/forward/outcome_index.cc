// File format, one line per outcome (references have no spaces or tabs):
//   A <TAB> REFERENCE <TAB> REFERRAL-ID <TAB> SEQ <TAB> RECORDED-AT
//   R <TAB> REFERENCE <TAB> CODE-NUMBER <TAB> RECORDED-AT <TAB> MESSAGE (tabs and newlines made spaces)
// RECORDED-AT is seconds since the epoch. Lines written before it existed
// lack it (four fields) and are still read.
#include "adapters/forward/outcome_index.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/durable_dir.h"

namespace refx::adapters {
namespace {

// A sweep that drops at least this many answers gives the memory they held
// back to the system (GiveBackAfterSweep).
constexpr size_t kGiveBackAfter = 4096;

// glibc keeps what a sweep freed for later allocations, so without this an
// adapter that took a bulk load keeps its peak resident size for its life
// (258 MB after a million answers, 7 MB after the trim; ~50 ms). Called
// with what Sweep dropped, without the index's locks: the trim walks the
// whole heap.
void GiveBackAfterSweep(size_t dropped) {
#ifdef __GLIBC__
  if (dropped >= kGiveBackAfter) ::malloc_trim(0);
#else
  (void)dropped;
#endif
}

std::string OneLine(std::string s);

// The line(s) of `o` appended to *text: its acceptance and/or refusal.
void AppendLines(const ForwardOutcome& o, bool accepted, int64_t recorded_at, std::string* text) {
  const std::string at = std::to_string(recorded_at);
  if (accepted) {
    *text += "A\t" + o.referrer_reference + "\t" + o.referral_id + "\t" + std::to_string(o.seq) + "\t" + at + "\n";
  } else {
    *text += "R\t" + o.referrer_reference + "\t" + std::to_string(static_cast<int>(o.refusal.code())) + "\t" + at +
             "\t" + OneLine(o.refusal.message()) + "\n";
  }
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

bool ParseNumber(const std::string& text, uint64_t* out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  char* end = nullptr;
  *out = std::strtoull(text.c_str(), &end, 10);
  return *end == '\0';
}

// recorded_at stays 0 for a line without it.
bool ParseLine(const std::string& line, ForwardOutcome* out) {
  std::vector<std::string> f;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    f.push_back(line.substr(start, tab - start));
  }
  f.push_back(line.substr(start));
  if (f.size() != 4 && f.size() != 5) return false;
  out->referrer_reference = f[1];
  uint64_t at = 0;
  if (f[0] == "A") {
    out->accepted = true;
    out->referral_id = f[2];
    if (f.size() == 5 && !ParseNumber(f[4], &at)) return false;
    out->recorded_at = static_cast<int64_t>(at);
    return ParseNumber(f[3], &out->seq) && !f[2].empty();
  }
  if (f[0] == "R") {
    out->accepted = false;
    int code = std::atoi(f[2].c_str());
    if (code <= 0) return false;
    if (f.size() == 5 && !ParseNumber(f[3], &at)) return false;
    out->recorded_at = static_cast<int64_t>(at);
    out->refusal = Status(static_cast<Status::Code>(code), f.back());
    return true;
  }
  return false;
}

}  // namespace

Status OutcomeIndex::Open(const std::string& path, std::unique_ptr<OutcomeIndex>* out,
                          OutcomeIndexOptions options) {
  std::unique_ptr<OutcomeIndex> index(new OutcomeIndex());
  index->path_ = path;
  index->options_ = std::move(options);
  const int64_t now = index->Now();
  index->swept_at_ = now;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline: torn by a crash
      ++index->lines_;
      ForwardOutcome o;
      if (!ParseLine(line, &o)) continue;
      if (o.recorded_at == 0) o.recorded_at = now;
      if (!index->Expired(o, now)) index->Apply(std::move(o), now);
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
  {
    std::lock_guard<std::mutex> lock(index->write_mu_);
    index->MaybeCompact("", 0);
  }
  *out = std::move(index);
  return Status::OK();
}

OutcomeIndex::~OutcomeIndex() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t OutcomeIndex::Now() const {
  if (options_.now) return options_.now();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool OutcomeIndex::Expired(const ForwardOutcome& o, int64_t now) const {
  return o.recorded_at + options_.keep.count() <= now;
}

void OutcomeIndex::Apply(ForwardOutcome outcome, int64_t now) {
  if (outcome.recorded_at == 0) outcome.recorded_at = now;
  ForwardOutcome& slot = latest_[outcome.referrer_reference];
  // One counter for every reference: a reference swept and answered again
  // still gets a version above any a waiter saw before.
  if (!outcome.accepted && slot.accepted) {
    // A refused resubmission does not undo the acceptance in the log (nor
    // does it after the acceptance left memory: GET asks the broker about
    // a refused reference, intake.cc).
    slot.refusal = std::move(outcome.refusal);
    slot.version = ++last_version_;
    slot.recorded_at = outcome.recorded_at;
    return;
  }
  outcome.version = ++last_version_;
  slot = std::move(outcome);
}

size_t OutcomeIndex::Sweep(int64_t now, bool force) {
  const int64_t every = std::min<int64_t>(3600, options_.keep.count());
  if (!force && now - swept_at_ < every) return 0;
  swept_at_ = now;
  size_t dropped = 0;
  for (auto it = latest_.begin(); it != latest_.end();) {
    if (Expired(it->second, now)) {
      it = latest_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  // The bucket array stays at its peak size unless asked to shrink.
  if (dropped >= kGiveBackAfter) latest_.rehash(0);
  return dropped;
}

Status OutcomeIndex::Record(const std::vector<ForwardOutcome>& outcomes) {
  REFX_RETURN_IF_ERROR(WriteDurably(outcomes));
  Publish(outcomes);
  return Status::OK();
}

void OutcomeIndex::Publish(const std::vector<ForwardOutcome>& outcomes) {
  if (outcomes.empty()) return;
  const int64_t now = Now();
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped = Sweep(now, false);
    for (const ForwardOutcome& o : outcomes) Apply(o, now);
    changed_.notify_all();
  }
  GiveBackAfterSweep(dropped);
}

Status OutcomeIndex::WriteDurably(const std::vector<ForwardOutcome>& outcomes) {
  if (outcomes.empty()) return Status::OK();
  const int64_t now = Now();
  std::string text;
  for (const ForwardOutcome& o : outcomes) AppendLines(o, o.accepted, o.recorded_at ? o.recorded_at : now, &text);
  std::lock_guard<std::mutex> lock(write_mu_);
  REFX_RETURN_IF_ERROR(WriteAll(fd_, text, path_));
  if (::fdatasync(fd_) != 0) return Status::IoError("cannot fsync " + path_ + ": " + std::strerror(errno));
  lines_ += outcomes.size();
  // The answers just written are durable whatever becomes of this.
  MaybeCompact(text, outcomes.size());
  return Status::OK();
}

void OutcomeIndex::MaybeCompact(const std::string& written, uint64_t written_lines) {
  if (lines_ <= options_.compact_after_lines) return;
  size_t references = 0;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> index_lock(mu_);
    dropped = Sweep(Now(), false);
    references = latest_.size();
  }
  GiveBackAfterSweep(dropped);
  if (lines_ > 2 * (references + written_lines)) {
    // A failed compaction leaves the old file in use; the next write tries again.
    Status compacted = Compact(written, written_lines);
    (void)compacted;
  }
}

size_t OutcomeIndex::references() {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_.size();
}

uint64_t OutcomeIndex::lines() {
  std::lock_guard<std::mutex> lock(write_mu_);
  return lines_;
}

Status OutcomeIndex::Compact(const std::string& written, uint64_t written_lines) {
  // What is in latest_ now, then `written`: everything durable in the file
  // (Record publishes only after writing, so its answers may not be in
  // latest_ yet; the forwarder's Publish may have added answers not yet
  // written, and writing them too is harmless: they are the broker's
  // answers and are appended again when written).
  std::string text;
  uint64_t lines = 0;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped = Sweep(Now(), true);
    for (const auto& [reference, o] : latest_) {
      if (o.accepted) {
        AppendLines(o, true, o.recorded_at, &text);
        ++lines;
      }
      if (!o.refusal.ok()) {
        AppendLines(o, false, o.recorded_at, &text);
        ++lines;
      }
    }
  }
  GiveBackAfterSweep(dropped);
  text += written;  // read after the lines above: the newer answer wins
  lines += written_lines;
  const std::string tmp = path_ + ".compact";
  // Opened for appending: after the rename this descriptor is the log's.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  Status s = WriteAll(fd, text, tmp);
  if (s.ok() && ::fdatasync(fd) != 0) s = Status::IoError("cannot fsync " + tmp + ": " + std::strerror(errno));
  if (s.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    s = Status::IoError("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  if (!s.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  // The rename is in place either way; a failed sync may only undo it after
  // a power loss (the old file comes back, complete).
  (void)SyncParentDir(path_);
  ::close(fd_);
  fd_ = fd;
  lines_ = lines;
  return Status::OK();
}

Status OutcomeIndex::Find(const std::string& reference, ForwardOutcome* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latest_.find(reference);
  if (it == latest_.end() || Expired(it->second, Now())) return Status::NotFound("no outcome for this reference");
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
